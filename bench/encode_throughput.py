"""Frozen-mode encoding: the `encode` stage's images/s against the bare image-encoder forward, in one run.

    python bench/encode_throughput.py [--images 1500] [--size 128] [--crop 112] [--batch 64]
        [--threads 2] [--repeats 5] [--device auto] [--json OUT] [--keep DIR]

Builds a synthetic dataset of ``--images`` samples with the project's own stages (``generate``,
``splits``, ``glove``, ``features`` with ``features.image_size = --size``) in a temporary directory,
then times, side by side (``--repeats`` rounds, each timing both sides back to back, in alternating order):

* ``stage`` — the images part of the `encode` stage as the pipeline runs it
  (``FrozenEncoders.encode_images``): uint8 memmap store -> chunk -> noise (noisy sets) -> crop and
  normalisation -> EfficientNet-Lite0 (or the dataset's image encoder) -> region features in host memory;
* ``bare`` — the same ``ImageEncoder``'s forward (``regions``) under ``torch.no_grad`` on the same
  images, already cropped, normalised and batched as float tensors on the device before the clock starts.

Sets: ``clean`` is every split (what one ``encode_clean`` job encodes: all ``--images`` images);
``<type>_<level>`` is the test split under each noise type of the grid at its highest level and the
first eval seed (what ``encode_noisy`` does per condition). The ratio stage/bare (images/s) is the
share of the encoder's own speed the stage reaches (goal: >= 0.8): the median of the rounds'
ratios, so that a shared machine's load changing between rounds does not enter it; images/s are
each side's best round. ``own work``: the stage with the encoder's forward replaced by a constant
(memmap reads, noise, crop and normalisation, copies) as a share of the bare forward's time: what
the stage adds at most (the reads and the noise overlap the encoder since prepared_ahead). For
information it also times the texts part (tokenize, text encoder, bag of GloVe words; texts/s) and
each whole stage call (``encode_split`` / ``encode_noisy_split``: images, texts and the cache written).

Defaults come from params.yaml: the synthetic dataset's size, ``features.image_size``,
``crop_size``, ``encode_batch_size``; the threads default to the encode rule's request (4) capped by
the cores. Both sides run with the same torch thread count.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pdf_core.config import dataset_config, load_params
from pdf_core.data.glove import extract_glove
from pdf_core.data.splits import build_splits
from pdf_core.data.synthetic import generate
from pdf_core.device import pick_device
from pdf_core.features.frozen import FrozenEncoders, encode_noisy_split, encode_split
from pdf_core.features.store import build_features, load_split
from pdf_core.grid import conditions
from pdf_core.io_utils import write_json
from pdf_core.noise import NoiseCondition, TestNoiser
from pdf_core.paths import SPLITS

DATASET = "synthetic"
PARAMS = Path(__file__).resolve().parent.parent / "params.yaml"
ENCODE_RULE_THREADS = 4  # workflow/rules/features.smk: threads of encode_clean / encode_noisy


def build_dataset(work: Path, params: dict, n_images: int, size: int) -> dict:
    """The pipeline's stages on a synthetic dataset of ``n_images`` samples; returns the paths."""
    ds = dataset_config(params, DATASET)
    raw, splits, glove, feats = (work / name for name in ("raw", "splits", "glove", "features"))
    generate(raw, **dict(ds["generate"], n_samples=n_images, image_size=max(size, ds["generate"]["image_size"])))
    build_splits(ds["kind"], raw, splits, ds["split"])
    extract_glove(
        [splits / f"{s}.jsonl" for s in SPLITS],
        ds["glove_spec"]["source"],
        ds["glove_spec"].get("lowercase", True),
        glove,
        mask_token=ds["glove_spec"]["bag_of_words"] == "original",  # as the glove stage (pdf_core/stages/glove.py)
    )
    build_features(splits, raw, feats, ds["text_encoder_spec"], size, params["features"]["image_policy"])
    return {"ds": ds, "glove": glove, "features": feats}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def prepared_batches(encoders: FrozenEncoders, images: np.ndarray) -> list[torch.Tensor]:
    """The bare side's input: the store's images cropped, normalised and batched as the stage batches them."""
    with torch.no_grad():
        return [
            encoders.image.preprocess(
                torch.from_numpy(np.array(images[i : i + encoders.batch_size])).to(encoders.device)
            )
            for i in range(0, len(images), encoders.batch_size)
        ]


def bare_forward(encoders: FrozenEncoders, batches: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for x in batches:
            encoders.image.regions(x)


@contextlib.contextmanager
def encoder_stubbed(encoders: FrozenEncoders):
    """The image encoder's forward (``regions``) replaced by a constant: the stage then does only its own work."""
    image = encoders.image
    constant = torch.zeros(encoders.batch_size, image.num_regions, image.dim, device=encoders.device)
    image.regions = lambda x: constant[: len(x)]
    try:
        yield
    finally:
        del image.regions


def measure_images(encoders, stores, noisers, batches, repeats: int) -> dict:
    """Stage and bare seconds over ``repeats`` rounds, the two sides back to back in each round.

    ``ratio``: the median over rounds of stage images/s over bare images/s, each round's two
    sides measured within seconds of each other, so a change in the machine's load between rounds
    does not enter it; images/s: each side's best round.
    """
    n = sum(len(s) for s in stores)

    def stage():
        for store, noiser in zip(stores, noisers, strict=True):
            encoders.encode_images(store, noiser)

    def bare():
        for b in batches:
            bare_forward(encoders, b)

    def own_work():
        with encoder_stubbed(encoders):
            stage()

    rounds = {"stage": [], "bare": [], "own_work": []}
    for r in range(repeats):
        order = (("stage", stage), ("bare", bare)) if r % 2 == 0 else (("bare", bare), ("stage", stage))
        for name, fn in (*order, ("own_work", own_work)):
            rounds[name].append(timed(fn, encoders.device))
    per_round = [b / s for s, b in zip(rounds["stage"], rounds["bare"], strict=True)]
    best = {name: min(times) for name, times in rounds.items()}
    return {
        "images": n,
        "stage_images_per_s": n / best["stage"],
        "bare_images_per_s": n / best["bare"],
        "ratio": float(np.median(per_round)),
        "ratio_per_round": per_round,
        # read, noise, crop/normalise, copies with the encoder stubbed: what the stage adds unless overlapped
        "own_work_share": float(np.median([w / b for w, b in zip(rounds["own_work"], rounds["bare"], strict=True)])),
        "rounds_s": rounds,
    }


def noisy_conditions(params: dict) -> list[NoiseCondition]:
    """Per noise type of the grid: its highest level, first eval seed (the most images noised)."""
    conds = list(conditions(params["grid"], noisy_only=True))
    out = []
    for noise_type in params["grid"]["noise_types"]:
        level = max(c[1] for c in conds if c[0] == noise_type)
        eval_seed = min(c[2] for c in conds if c[0] == noise_type)
        out.append(NoiseCondition(noise_type, level, eval_seed, params["parity"]["noise"]))
    return out


def main() -> None:
    params = load_params(PARAMS)
    feat = params["features"]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=params["datasets"][DATASET]["generate"]["n_samples"])
    ap.add_argument("--size", type=int, default=feat["image_size"], help="stored image side (features.image_size)")
    ap.add_argument("--crop", type=int, default=feat["crop_size"], help="centre crop the encoder sees")
    ap.add_argument("--batch", type=int, default=feat["encode_batch_size"])
    ap.add_argument("--threads", type=int, default=min(ENCODE_RULE_THREADS, os.cpu_count() or 1))
    ap.add_argument("--repeats", type=int, default=5, help="rounds, each timing both sides back to back")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--keep", help="build the dataset in this directory and keep it (reused when present)")
    args = ap.parse_args()
    if args.crop > args.size:
        ap.error(f"--crop {args.crop} is larger than --size {args.size}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = pick_device(args.device)

    with tempfile.TemporaryDirectory(prefix="encode-bench-") as tmp:
        work = Path(args.keep or tmp)
        t0 = time.perf_counter()
        if args.keep and (work / "features").exists():
            built = {"ds": dataset_config(params, DATASET), "glove": work / "glove", "features": work / "features"}
        else:
            built = build_dataset(work, params, args.images, args.size)
        setup_s = time.perf_counter() - t0
        features = dict(feat, crop_size=args.crop, encode_batch_size=args.batch)
        encoders = FrozenEncoders(built["ds"], features, built["glove"], device)
        data = {split: load_split(built["features"], split) for split in SPLITS}
        stored = (sum(len(d["labels"]) for d in data.values()), data["test"]["images"].shape[1])
        if stored != (args.images, args.size):
            raise SystemExit(
                f"{work}: holds {stored[0]} images at {stored[1]} px, not --images {args.images} "
                f"--size {args.size}; remove it or give another --keep directory"
            )
        sets = {"clean": ([data[s]["images"] for s in SPLITS], [None] * len(SPLITS))}
        test = data["test"]
        for cond in noisy_conditions(params):
            noiser = TestNoiser(cond, len(test["labels"]), test["texts"], test["sizes"])
            sets[f"{cond.noise_type}_{cond.level:g}"] = ([test["images"]], [noiser])
        batches = {s: prepared_batches(encoders, data[s]["images"]) for s in SPLITS}
        bare_inputs = {"clean": [batches[s] for s in SPLITS]}
        encoders.encode_images(test["images"][: args.batch], None)  # warm-up: first-call allocations
        bare_forward(encoders, batches["test"][:1])

        result = {
            "config": {
                **vars(args),
                "image_encoder": built["ds"]["image_encoder"],
                "noise_parity": params["parity"]["noise"],
            },
            "environment": {
                "device": str(device),
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
                "load_average_before": os.getloadavg(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
            },
            "setup_s": setup_s,
            "split_sizes": {s: len(data[s]["labels"]) for s in SPLITS},
            "images": {},
        }
        print(
            f"dataset: {result['split_sizes']} images at {args.size} px, crop {args.crop}, batch {args.batch}, "
            f"{args.threads} threads, {device}; built in {setup_s:.0f} s; load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'set':<16}{'images':>7}{'stage img/s':>13}{'bare img/s':>12}{'stage/bare':>12}"
            f"  {'rounds':<11}{'own work':>9}"
        )
        for name, (stores, noisers) in sets.items():
            res = measure_images(encoders, stores, noisers, bare_inputs.get(name, [batches["test"]]), args.repeats)
            result["images"][name] = res
            print(
                f"{name:<16}{res['images']:>7}{res['stage_images_per_s']:>13.1f}{res['bare_images_per_s']:>12.1f}"
                f"{res['ratio']:>12.3f}  {min(res['ratio_per_round']):.2f}-{max(res['ratio_per_round']):.2f}"
                f"{res['own_work_share']:>9.1%}"
            )

        texts = [t for s in SPLITS for t in data[s]["texts"]]
        text_s = timed(lambda: encoders.encode_texts(texts, None), device)
        result["texts"] = {"texts": len(texts), "seconds": text_s, "texts_per_s": len(texts) / text_s}
        print(f"texts part (clean, all splits): {len(texts) / text_s:.1f} texts/s")

        out = work / "caches"
        whole = {
            "clean": timed(
                lambda: [encode_split(encoders, built["features"], s, out / f"{s}.npz") for s in SPLITS], device
            )
        }
        for cond in noisy_conditions(params):
            path = out / f"{cond.noise_type}.npz"
            whole[f"{cond.noise_type}_{cond.level:g}"] = timed(
                lambda c=cond, p=path: encode_noisy_split(encoders, built["features"], "test", c, p), device
            )
        result["whole_stage"] = {
            name: {"seconds": secs, "samples_per_s": result["images"][name]["images"] / secs}
            for name, secs in whole.items()
        }
        print(
            "whole stage call (images + texts + cache written): "
            + ", ".join(f"{k} {v['samples_per_s']:.1f} samples/s" for k, v in result["whole_stage"].items())
        )
        result["environment"]["load_average_after"] = os.getloadavg()
        result["min_ratio"] = min(r["ratio"] for r in result["images"].values())
        print(f"min stage/bare ratio: {result['min_ratio']:.3f} (goal >= 0.8)")
        if args.json:
            write_json(args.json, result)


if __name__ == "__main__":
    main()
