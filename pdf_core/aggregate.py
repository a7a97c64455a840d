"""Aggregation of every evaluation JSON into paper-style tables, DVC metrics and plots.

Per (dataset, model, noise type, level): each train seed's accuracy is first averaged over the eval
seeds, then mean ± std (sample std, ddof=1; 0 for a single seed) is taken over train seeds, as the
paper reports it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pdf_core import paths
from pdf_core.io_utils import atomic_path, read_json, write_json, write_text

log = logging.getLogger(__name__)

KEYS = ["dataset", "model", "noise_type", "noise_level"]
EXTRA_METRICS = [
    "macro_f1",
    "nll",
    "ece",
    "weight_img_clean",
    "weight_img_noised",
    "weight_txt_clean",
    "weight_txt_noised",
]


def load_evaluations(eval_paths: list[Path]) -> pd.DataFrame:
    rows = []
    for path in eval_paths:
        rec = read_json(path)
        seed_dir = Path(path).parent.parent.name  # runs/<ds>/<model>/seed<k>/eval/<file>.json
        if not seed_dir.startswith("seed"):
            raise ValueError(f"{path}: expected runs/<dataset>/<model>/seed<k>/eval/<file>.json")
        rec["seed"] = int(seed_dir[4:])
        rows.append(rec)
    if not rows:
        raise ValueError("no evaluation files to aggregate; run the evaluate stage first")
    return pd.DataFrame(rows)


def summarize(evals: pd.DataFrame) -> pd.DataFrame:
    metric_cols = ["accuracy"] + [c for c in EXTRA_METRICS if c in evals]
    per_seed = evals.groupby(KEYS + ["seed"], as_index=False)[metric_cols].mean()
    grouped = per_seed.groupby(KEYS)
    summary = grouped["accuracy"].agg(n_runs="count", acc_mean="mean", acc_std="std").reset_index()
    summary["acc_std"] = summary["acc_std"].fillna(0.0)
    means = grouped[metric_cols[1:]].mean().reset_index() if len(metric_cols) > 1 else None
    if means is not None:
        summary = summary.merge(means.rename(columns={c: f"{c}_mean" for c in metric_cols[1:]}), on=KEYS)
    return summary.sort_values(KEYS).reset_index(drop=True)


TITLE = "Accuracy under test-time noise (mean ± std over train seeds, %)"


def accuracy_tables(summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per dataset: rows = models, columns = noise type x level, cells = 'mean ± std' accuracy in %."""
    tables = {}
    for dataset, part in summary.groupby("dataset"):
        cells = part.assign(
            cell=[f"{100 * m:.2f} ± {100 * s:.2f}" for m, s in zip(part.acc_mean, part.acc_std, strict=True)],
            column=[f"{t} ε={lvl:g}" for t, lvl in zip(part.noise_type, part.noise_level, strict=True)],
        )
        order = [f"{t} ε={lvl:g}" for t, lvl in sorted(set(zip(part.noise_type, part.noise_level, strict=True)))]
        table = cells.pivot(index="model", columns="column", values="cell").reindex(columns=order).fillna("–")
        table.index.name, table.columns.name = "model", None
        tables[dataset] = table
    return tables


def _seeds_line(summary: pd.DataFrame) -> str:
    return f"Train seeds per cell: {', '.join(map(str, sorted(summary['n_runs'].unique())))}."


def markdown_table(summary: pd.DataFrame) -> str:
    lines = [f"# {TITLE}", ""]
    for dataset, table in accuracy_tables(summary).items():
        lines += [
            f"## {dataset}",
            "",
            "| model | " + " | ".join(table.columns) + " |",
            "|---|" + "---|" * len(table.columns),
        ]
        lines += [f"| {model} | " + " | ".join(row) + " |" for model, row in table.iterrows()]
        lines.append("")
    lines.append(_seeds_line(summary))
    return "\n".join(lines) + "\n"


def html_table(summary: pd.DataFrame) -> str:
    """The same tables as a standalone HTML page (shown inline by `snakemake --report`)."""
    body = "".join(
        f"<h2>{dataset}</h2>{table.to_html(border=1, index_names=False)}"
        for dataset, table in accuracy_tables(summary).items()
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{TITLE}</title>"
        "<style>body{font-family:sans-serif} td,th{padding:4px 10px;text-align:right}</style></head>"
        f"<body><h1>{TITLE}</h1>{body}<p>{_seeds_line(summary)}</p></body></html>\n"
    )


def dvc_metrics(summary: pd.DataFrame) -> dict:
    out: dict = {}
    for r in summary.itertuples():
        cell = out.setdefault(r.dataset, {}).setdefault(r.model, {})
        cell[f"{r.noise_type}_{r.noise_level:g}"] = {"acc_mean": round(r.acc_mean, 6), "acc_std": round(r.acc_std, 6)}
    return out


def plot_accuracy(summary: pd.DataFrame, out_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = summary[["dataset", "noise_type"]].drop_duplicates().values.tolist()
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
    fig.tight_layout()
    with atomic_path(out_path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def aggregate(eval_paths: list[Path], out_dir: Path) -> pd.DataFrame:
    out = paths.result_files(out_dir)
    summary = summarize(load_evaluations(eval_paths))
    with atomic_path(out["csv"], suffix=".csv") as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6f")
    write_text(out["md"], markdown_table(summary))
    write_text(out["html"], html_table(summary))
    write_json(out["metrics"], dvc_metrics(summary))
    plot_accuracy(summary, out["plot"])
    log.info("aggregated %d evaluations into %d rows", len(eval_paths), len(summary))
    return summary
