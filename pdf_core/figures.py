"""The figures people look at: accuracy vs noise, fusion weights vs noise, reliability diagrams, and
whether each method's weight finds the noised modality (AUROC vs noise).

Each takes the aggregated table (or the evaluation records) and writes one PNG atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pdf_core.io_utils import atomic_path
from pdf_core.models import model_group


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_path: Path) -> None:
    fig.tight_layout()
    with atomic_path(out_path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _pyplot().close(fig)


def _panels(summary: pd.DataFrame) -> list[tuple[str, str]]:
    return [tuple(p) for p in summary[["dataset", "noise_type"]].drop_duplicates().values.tolist()]


def plot_accuracy(summary: pd.DataFrame, out_path: Path) -> None:
    """Accuracy (mean ± std over train seeds) against ε, one panel per dataset and noise type."""
    plt = _pyplot()
    panels = _panels(summary)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (dataset, noise_type) in zip(axes[0], panels, strict=False):
        part = summary[(summary.dataset == dataset) & (summary.noise_type == noise_type)]
        for model, rows in part.groupby("model"):
            rows = rows.sort_values("noise_level")
            ax.errorbar(
                rows.noise_level, 100 * rows.acc_mean, yerr=100 * rows.acc_std, marker="o", capsize=3, label=model
            )
        ax.set(title=f"{dataset} — {noise_type} noise", xlabel="noise level ε", ylabel="accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, out_path)


WEIGHT_LINES = (  # (column of the summary, label, colour, line style)
    ("weight_img_noised_mean", "image weight, image noised", "tab:red", "-"),
    ("weight_img_clean_mean", "image weight, image clean", "tab:red", "--"),
    ("weight_txt_noised_mean", "text weight, text noised", "tab:blue", "-"),
    ("weight_txt_clean_mean", "text weight, text clean", "tab:blue", "--"),
)


def plot_fusion_weights(summary: pd.DataFrame, out_path: Path) -> None:
    """Dynamic fusion methods: mean weight of each modality against ε, split by whether it was noised.

    Rows: the dynamic methods in the grid (qmf, pdf, tmc); columns: dataset x noise type. A method
    that reacts to noise shows a solid line (noised) below the dashed one (clean) of the same colour.
    """
    plt = _pyplot()
    models = [m for m in sorted(summary.model.unique()) if model_group(m) == "dynamic"]
    panels = _panels(summary)
    fig, axes = plt.subplots(
        max(1, len(models)), len(panels), figsize=(4.5 * len(panels), 3.2 * max(1, len(models))), squeeze=False
    )
    for row, model in enumerate(models):
        for col, (dataset, noise_type) in enumerate(panels):
            ax = axes[row][col]
            part = summary[(summary.dataset == dataset) & (summary.noise_type == noise_type) & (summary.model == model)]
            part = part.sort_values("noise_level")
            for column, label, colour, style in WEIGHT_LINES:
                if column in part and part[column].notna().any():
                    ax.plot(part.noise_level, part[column], style, color=colour, marker="o", label=label)
            ax.set(title=f"{model} — {dataset}, {noise_type}", xlabel="noise level ε", ylabel="mean fusion weight")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    _save(fig, out_path)


AUROC_MODALITIES = (("img", "image", "-", "o"), ("txt", "text", "--", "s"))  # (key, label, line style, marker)


def plot_weight_auroc(summary: pd.DataFrame, out_path: Path) -> None:
    """AUROC of "lower weight -> this modality noised" (mean ± std over train seeds) against ε: a row per
    dataset, a panel per noise type, a colour per method, a line style per modality. 0.5 is chance, and
    exactly late fusion's constant weights; 1 means the weight drops on exactly the noised samples.
    Conditions with no noised sample of a modality (ε = 0) have no value and no point."""
    plt = _pyplot()
    datasets, noise_types = sorted(summary.dataset.unique()), sorted(summary.noise_type.unique())
    columns = [f"weight_auroc_{key}_mean" for key, *_ in AUROC_MODALITIES]
    present = [c for c in columns if c in summary]
    with_values = summary[summary[present].notna().any(axis=1)] if present else summary.iloc[:0]
    models = sorted(with_values.model.unique())
    colours = {model: f"C{i % 10}" for i, model in enumerate(models)}
    fig, axes = plt.subplots(
        len(datasets), len(noise_types), figsize=(5 * len(noise_types), 3.8 * len(datasets)), squeeze=False
    )
    for row, dataset in enumerate(datasets):
        for col, noise_type in enumerate(noise_types):
            ax = axes[row][col]
            ax.axhline(0.5, color="0.5", linewidth=1, linestyle=":", label="chance (constant weight)")
            part = with_values[(with_values.dataset == dataset) & (with_values.noise_type == noise_type)]
            for model, rows in part.groupby("model"):
                rows = rows.sort_values("noise_level")
                for key, label, style, marker in AUROC_MODALITIES:
                    mean, std = f"weight_auroc_{key}_mean", f"weight_auroc_{key}_std"
                    if mean not in rows:
                        continue
                    points = rows[rows[mean].notna()]
                    if points.empty:
                        continue
                    ax.errorbar(
                        points.noise_level,
                        points[mean],
                        yerr=points[std],
                        linestyle=style,
                        marker=marker,
                        color=colours[model],
                        capsize=3,
                        label=f"{model}, {label}",
                    )
            ax.set(
                title=f"{dataset} — {noise_type} noise",
                xlabel="noise level ε",
                ylabel="AUROC (lower weight → noised)",
                ylim=(-0.02, 1.02),
            )
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, ncol=2, loc="lower left")  # below chance is where lines rarely go
    _save(fig, out_path)


def pooled_reliability(records: list[dict]) -> dict[str, np.ndarray]:
    """Reliability bins summed over evaluations: counts, and count-weighted confidence and accuracy."""
    counts = np.array([r["reliability"]["count"] for r in records], dtype=float)
    conf = np.array([[c or 0.0 for c in r["reliability"]["confidence"]] for r in records])
    acc = np.array([[a or 0.0 for a in r["reliability"]["accuracy"]] for r in records])
    total = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"count": total, "confidence": (counts * conf).sum(0) / total, "accuracy": (counts * acc).sum(0) / total}


def plot_reliability(evals: pd.DataFrame, out_path: Path, columns: int = 5) -> None:
    """Reliability diagram per dataset and method, ``columns`` panels a row: the clean test set and the
    highest ε of each noise type, bins pooled over train and eval seeds; the diagonal is perfect calibration."""
    plt = _pyplot()
    panels = [(d, m) for d in sorted(evals.dataset.unique()) for m in sorted(evals.model.unique())]
    top = evals.noise_level.max()
    ncols = min(columns, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.8 * ncols, 2.8 * nrows), squeeze=False, sharex=True, sharey=True)
    for ax, (dataset, model) in zip(axes.flat, panels, strict=False):
        ax.plot([0, 1], [0, 1], color="0.6", linewidth=1)
        mine = evals[(evals.dataset == dataset) & (evals.model == model)]
        curves = [("ε=0", mine[mine.noise_level == 0].drop_duplicates(["seed", "eval_seed"]))]
        curves += [
            (f"{t} ε={top:g}", mine[(mine.noise_type == t) & (mine.noise_level == top)])
            for t in sorted(mine.noise_type.unique())
            if top > 0
        ]
        for label, part in curves:
            if part.empty or "reliability" not in part:
                continue
            pooled = pooled_reliability(part.to_dict("records"))
            seen = pooled["count"] > 0
            ax.plot(pooled["confidence"][seen], pooled["accuracy"][seen], marker=".", label=label)
        ax.set_title(f"{model} — {dataset}", fontsize=9)
        ax.set(xlabel="confidence", ylabel="accuracy")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=7)
    _save(fig, out_path)
