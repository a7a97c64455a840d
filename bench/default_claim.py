"""Why the dynamic fusions win or lose on the embedded default: per-sample weights and heads under noise.

    python bench/default_claim.py [PROJECT_DIR] [--split test|dev] [--noise-parity original project] [--level 10]

Run in a project whose pipeline has trained the late-fusion family (latefusion, tmc, qmf, pdf). For each
``parity.noise`` choice it noises the chosen split itself (pdf_core.noise.TestNoiser, the grid's noise types and eval
seeds at ``--level``), encodes it with the frozen encoders, loads every trained seed and prints, side by
side per choice:

1. fused accuracy and each head's accuracy (text head alone, image head alone) per noise type;
2. per model, the mean fusion weight of each modality on clean vs noised samples, and the AUROC with which
   the image weight ranks clean images above noised ones (0.5: blind to the noise, 1: separates it);
3. accuracy per cell (image clean / noised x text intact / masked), fused and per head;
4. how alike noised images look to the image head: the share of noised images given its most common class;
5. on the clean split, the mean weight per generated quality and corruption strength (the synthetic data's
   sample_quality.tsv): whether the confidence separates the good from the bad samples the generator made.

``--split dev`` never reads the test split (selection on dev). docs/default_claim.md quotes the output.
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from pdf_core.parity import PARITY_CHOICES

FUSION_MODELS = ("latefusion", "tmc", "qmf", "pdf")


def auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """P(score of a positive > score of a negative), ties counting one half; None without both classes."""
    if positive.all() or not positive.any():
        return None
    pos, neg = scores[positive], scores[~positive]
    return float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))


def majority_share(pred: np.ndarray) -> float | None:
    """Share of the most common value of ``pred`` (1/K for a spread, 1.0 for one class for all)."""
    if len(pred) == 0:
        return None
    return float(np.bincount(pred).max() / len(pred))


def _fmt(value, digits: int = 2, scale: float = 1.0) -> str:
    return "—" if value is None else f"{scale * value:.{digits}f}"


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _bin_strength(values: np.ndarray) -> np.ndarray:
    """A corruption strength column as '0' (none), 'low' / 'high' (below / above the median of the rest)."""
    strength = values.astype(float)
    median = np.median(strength[strength > 0]) if (strength > 0).any() else 0.0
    return np.where(strength == 0, "0", np.where(strength <= median, "low", "high"))


def _load_quality(raw_dir: Path, ids: list[str]) -> dict[str, np.ndarray] | None:
    """The generator's sample_quality.tsv for ``ids``: quality levels, corruption strengths binned."""
    path = raw_dir / "sample_quality.tsv"
    if not path.exists():
        return None
    table = pd.read_csv(path, sep="\t", dtype={"id": str}).set_index("id").loc[ids]
    out = {col: table[col].to_numpy() for col in ("image_quality", "text_quality")}
    for col in ("image_noise_std", "text_mask_rate"):  # absent from data generated without corruption
        if col in table:
            out[col] = _bin_strength(table[col].to_numpy())
    return out


def collect(project: Path, split: str, noise_parities: list[str], level: float) -> dict:
    """Per-sample predictions of every seed of every fusion model, per parity.noise choice and noise type
    (and clean)."""
    import torch

    from pdf_core import paths
    from pdf_core.config import dataset_config, load_params
    from pdf_core.evaluate import load_run
    from pdf_core.features.frozen import FrozenEncoders
    from pdf_core.features.store import load_split
    from pdf_core.inputs import SplitInputs, frozen_inputs
    from pdf_core.noise import NoiseCondition, TestNoiser
    from pdf_core.settings import run_settings
    from pdf_core.train import predict

    os.chdir(project)
    params = load_params("params.yaml")
    grid = params["grid"]
    (dataset,) = grid["datasets"][:1]
    ds = dataset_config(params, dataset)
    device = torch.device("cpu")
    data = load_split(paths.features_dir(dataset), split)
    encoders = FrozenEncoders(ds, params["features"], paths.glove_dir(dataset), device)
    clean = frozen_inputs(paths.frozen_clean(dataset, split))
    conditions = {("clean", "none", 0): clean}
    for noise_parity in noise_parities:
        for noise_type in grid["noise_types"]:
            for eval_seed in grid["eval_seeds"]:
                cond = NoiseCondition(noise_type, level, eval_seed, noise_parity)
                noiser = TestNoiser(cond, len(data["labels"]), data["texts"], data["sizes"])
                desc = f"{split} {noise_parity} {noise_type}"
                arrays = encoders.encode(data["images"], data["texts"], noiser, desc=desc)
                conditions[noise_parity, noise_type, eval_seed] = SplitInputs(
                    arrays, data["labels"], noiser.image_noised, noiser.text_noised, noiser.text_masked
                )
    train_inputs = frozen_inputs(paths.frozen_clean(dataset, "train"))
    out = {"labels": data["labels"], "conditions": conditions, "preds": defaultdict(dict)}
    out["quality"] = _load_quality(Path(ds["raw_dir"]), data["ids"])
    for model_name in FUSION_MODELS:
        hp = run_settings(params, model_name, dataset)
        for seed in grid["seeds"]:
            ckpt = paths.run_dir(dataset, model_name, seed) / "model.pt"
            model, *_ = load_run(ckpt, hp, ds, params["features"], train_inputs, device)
            for key, inputs in conditions.items():
                out["preds"][model_name][key, seed] = predict(model, inputs, device)
    out["seeds"] = grid["seeds"]
    return out


def report(res: dict, noise_parities: list[str], level: float) -> None:
    labels, conditions, preds, seeds = res["labels"], res["conditions"], res["preds"], res["seeds"]
    noisy = [k for k in conditions if k[0] != "clean"]
    noise_types = sorted({k[1] for k in noisy})

    def acc(logits, mask=None):
        mask = np.ones(len(labels), bool) if mask is None else mask
        return float((logits.argmax(1)[mask] == labels[mask]).mean()) if mask.any() else None

    def over(model, noise_parity, noise_type, fn):
        """fn(pred, inputs) averaged over train seeds and eval seeds of one parity.noise choice x noise type."""
        keys = [k for k in conditions if k[0] == noise_parity and k[1] == noise_type]
        return _mean([fn(preds[model][k, s], conditions[k]) for k in keys for s in seeds])

    print(f"\n## 1. Accuracy (%) at level {level:g}: fused | text head | image head (mean over seeds)\n")
    cols = [(m, t) for t in noise_types for m in noise_parities]
    print("| model | clean | " + " | ".join(f"{t} {m}" for m, t in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for model in FUSION_MODELS:
        for head, key in (("fused", "logits"), ("text head", "txt_logits"), ("image head", "img_logits")):
            clean = _mean([acc(preds[model][("clean", "none", 0), s][key]) for s in seeds])
            cells = [over(model, m, t, lambda p, _, key=key: acc(p[key])) for m, t in cols]
            print(f"| {model} {head} | {_fmt(clean, 1, 100)} | " + " | ".join(_fmt(c, 1, 100) for c in cells) + " |")

    print("\n## 2. Mean fusion weight, clean vs noised samples; AUROC(image weight: clean image > noised image)\n")
    print("| model | draws | noise | w_img clean | w_img noised | w_txt intact | w_txt masked | AUROC img |")
    print("|---|---|---|---|---|---|---|---|")
    for model in FUSION_MODELS[1:]:
        for noise_parity in noise_parities:
            for t in noise_types:

                def w(p, inp, key, flag, want):
                    mask = getattr(inp, flag) == want
                    return float(p[key][mask].mean()) if mask.any() else None

                cells = [
                    over(model, noise_parity, t, lambda p, i: w(p, i, "weight_img", "image_noised", False)),
                    over(model, noise_parity, t, lambda p, i: w(p, i, "weight_img", "image_noised", True)),
                    over(model, noise_parity, t, lambda p, i: w(p, i, "weight_txt", "text_masked", False)),
                    over(model, noise_parity, t, lambda p, i: w(p, i, "weight_txt", "text_masked", True)),
                    over(model, noise_parity, t, lambda p, i: auroc(p["weight_img"], ~i.image_noised)),
                ]
                print(f"| {model} | {noise_parity} | {t} | " + " | ".join(_fmt(c, 3) for c in cells) + " |")

    print("\n## 3. Accuracy (%) per cell: image clean/noised x text intact/masked — fused (text head, image head)\n")
    cells = [(False, False), (True, False), (False, True), (True, True)]
    names = ["img clean, txt intact", "img noised, txt intact", "img clean, txt masked", "img noised, txt masked"]
    for noise_parity in noise_parities:
        for t in noise_types:
            share = [
                _mean(
                    [
                        float(((c.image_noised == a) & (c.text_masked == b)).mean())
                        for k, c in conditions.items()
                        if k[0] == noise_parity and k[1] == t
                    ]
                )
                for a, b in cells
            ]
            print(f"\n{noise_parity} {t}: share of samples per cell " + ", ".join(_fmt(s, 2) for s in share))
            print("| model | " + " | ".join(names) + " |")
            print("|---|" + "---|" * len(names))
            for model in FUSION_MODELS:
                row = []
                for a, b in cells:
                    vals = [
                        over(
                            model,
                            noise_parity,
                            t,
                            lambda p, i, a=a, b=b, key=key: acc(p[key], (i.image_noised == a) & (i.text_masked == b)),
                        )
                        for key in ("logits", "txt_logits", "img_logits")
                    ]
                    row.append(f"{_fmt(vals[0], 1, 100)} ({_fmt(vals[1], 0, 100)}, {_fmt(vals[2], 0, 100)})")
                print(f"| {model} | " + " | ".join(row) + " |")

    print("\n## 4. Noised images alike? share of noised images the image head puts in its most common class\n")
    print("| model | " + " | ".join(f"{t} {m}" for m, t in cols) + " | clean images |")
    print("|---|" + "---|" * (len(cols) + 1))
    for model in FUSION_MODELS:
        cells = [
            over(model, m, t, lambda p, i: majority_share(p["img_logits"].argmax(1)[i.image_noised])) for m, t in cols
        ]
        clean = _mean([majority_share(preds[model][("clean", "none", 0), s]["img_logits"].argmax(1)) for s in seeds])
        print(f"| {model} | " + " | ".join(_fmt(c, 2) for c in cells) + f" | {_fmt(clean, 2)} |")

    quality = res["quality"]
    if quality is None:
        return
    print("\n## 5. Clean split: mean weight (and head accuracy %) per generated quality of that modality\n")
    columns = {"image_quality": "img", "text_quality": "txt", "image_noise_std": "img", "text_mask_rate": "txt"}
    for col, modality in columns.items():
        if col not in quality:
            continue
        levels = sorted(set(quality[col]))
        print(f"\n{col}: " + ", ".join(f"{q} n={int((quality[col] == q).sum())}" for q in levels))
        print("| model | " + " | ".join(levels) + " |")
        print("|---|" + "---|" * len(levels))
        for model in FUSION_MODELS[1:]:
            row = []
            for q in levels:
                mask = quality[col] == q
                p = [preds[model][("clean", "none", 0), s] for s in seeds]
                weight = _mean([float(x[f"weight_{modality}"][mask].mean()) for x in p])
                head = _mean([acc(x[f"{modality}_logits"], mask) for x in p])
                row.append(f"{_fmt(weight, 3)} ({_fmt(head, 0, 100)})")
            print(f"| {model} | " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", nargs="?", default=".", type=Path)
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument(
        "--noise-parity", nargs="+", choices=PARITY_CHOICES, default=["original", "project"], dest="noise_parities"
    )
    parser.add_argument("--level", type=float, default=10.0)
    args = parser.parse_args()
    res = collect(args.project.resolve(), args.split, args.noise_parities, args.level)
    report(res, args.noise_parities, args.level)


if __name__ == "__main__":
    main()
