"""The figures people look at: accuracy vs noise per family, the corruption error per family, fusion
weights vs noise, reliability diagrams, and whether each method's weight finds the noised modality
(AUROC vs noise).

Each takes the aggregated table (or the evaluation records) and writes one PNG atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pdf_core.io_utils import atomic_path
from pdf_core.models import model_group
from pdf_core.robustness import CE_REFERENCE, family_order, level_tick


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_path: Path, legend_space: float = 0.0) -> None:
    fig.tight_layout(rect=(0, legend_space, 1, 1))  # the bottom `legend_space` (figure fraction) left to a legend
    with atomic_path(out_path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _pyplot().close(fig)


def _panels(summary: pd.DataFrame) -> list[tuple[str, str]]:
    return [tuple(p) for p in summary[["dataset", "noise_type"]].drop_duplicates().values.tolist()]


def _model_styles(models) -> dict[str, dict]:
    """One colour per method, the same in every panel; the CE reference (late fusion) black and dashed."""
    return {
        model: {"color": "black", "linestyle": "--"} if model == CE_REFERENCE else {"color": f"C{i % 10}"}
        for i, model in enumerate(sorted(models))
    }


def plot_accuracy(summary: pd.DataFrame, out_path: Path, columns: int = 4) -> None:
    """Accuracy (mean ± std over train seeds) against the noise level, a panel per dataset and family (noise
    type), ``columns`` panels a row, each dataset's families in declaration order; the ticks say what a level
    is for the family (its severity, or the share of samples that lose a modality)."""
    plt = _pyplot()
    datasets = sorted(summary.dataset.unique())
    families = {d: family_order(summary[summary.dataset == d].noise_type.unique()) for d in datasets}
    ncols = max(1, min(columns, max(len(f) for f in families.values())))
    rows_per = {d: -(-len(families[d]) // ncols) for d in datasets}
    nrows = sum(rows_per.values())
    styles = _model_styles(summary.model.unique())
    legend_space = 0.6 / (3.6 * nrows + 0.6)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    first_row = 0
    for dataset in datasets:
        for i, family in enumerate(families[dataset]):
            ax = axes[first_row + i // ncols][i % ncols]
            ax.set_visible(True)
            part = summary[(summary.dataset == dataset) & (summary.noise_type == family)]
            for model, rows in part.groupby("model"):
                rows = rows.sort_values("noise_level")
                ax.errorbar(
                    rows.noise_level,
                    100 * rows.acc_mean,
                    yerr=100 * rows.acc_std,
                    marker="o",
                    capsize=3,
                    label=model,
                    **styles[model],
                )
            levels = sorted(part.noise_level.unique())
            ax.set_xticks(levels, [level_tick(family, lvl) for lvl in levels], fontsize=8)
            ax.set_title(f"{family} — {dataset}", fontweight="bold")
            ax.set(xlabel="noise level ε", ylabel="accuracy (%)")
            ax.grid(alpha=0.3)
        first_row += rows_per[dataset]
    handles, labels = next((ax.get_legend_handles_labels() for ax in axes.flat if ax.get_visible()), ([], []))
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 10), fontsize=8, frameon=False)
    _save(fig, out_path, legend_space)


def plot_robustness(table: pd.DataFrame, out_path: Path) -> None:
    """Per dataset, methods x families: the corruption error relative to late fusion (× 100, mCE in the last
    column), coloured below 100 (more robust) green and above red; where no CE is defined (no late fusion
    in the grid), the mean accuracy over severities instead. ``table``: pdf_core.robustness.robustness_table."""
    plt = _pyplot()
    datasets = sorted(table.dataset.unique())
    n_columns, n_models = table.noise_type.nunique() + 1, max(1, table.model.nunique())
    height = 0.4 * n_models + 1.6  # per dataset
    fig, axes = plt.subplots(
        max(1, len(datasets)), 1, figsize=(1.1 * n_columns + 3.5, height * max(1, len(datasets))), squeeze=False
    )
    if not datasets:
        axes[0][0].text(0.5, 0.5, "no noise level above 0 in the grid", ha="center", va="center")
        axes[0][0].set_axis_off()
    for ax, dataset in zip(axes[:, 0], datasets, strict=True):
        part = table[table.dataset == dataset]
        families = family_order(part.noise_type.unique())
        use_ce = part.ce.notna().any()
        column = "ce" if use_ce else "mean_acc"
        grid = part.pivot(index="model", columns="noise_type", values=column).reindex(columns=families)
        if use_ce:
            grid["mCE"] = part.groupby("model").mce.first()
        values = 100 * grid.to_numpy(dtype=float)
        if use_ce:
            spread = max(10.0, float(np.nanmax(np.abs(values - 100))))
            image = ax.imshow(values, cmap="RdYlGn_r", vmin=100 - spread, vmax=100 + spread, aspect="auto")
        else:
            image = ax.imshow(values, cmap="viridis", aspect="auto")
        for (r, c), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(c, r, f"{value:.1f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(grid.columns)), grid.columns, rotation=30, ha="right")
        ax.set_yticks(range(len(grid.index)), grid.index)
        what = f"corruption error relative to {CE_REFERENCE} (100 = as {CE_REFERENCE}, lower is better)"
        ax.set_title(f"{dataset} — " + (what if use_ce else "mean accuracy over severities (%); no CE: no late fusion"))
        fig.colorbar(image, ax=ax, shrink=0.8)
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
