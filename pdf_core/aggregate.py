"""Aggregation of every evaluation JSON into paper-style tables, DVC metrics and plots.

Per (dataset, model, noise type, level): each train seed's accuracy is first averaged over the eval
seeds, then mean ± std (sample std, ddof=1; 0 for a single seed) is taken over train seeds, as the
paper reports it. The fusion-weight diagnostic (pdf_core.evaluate ``weight_diagnostic``) is carried
the same way into ``<column>_mean`` / ``<column>_std``; a null value (no noised sample, a constant
weight) is left out of each mean, and a cell with no value at all stays empty. The robustness report
per noise family (mean accuracy over severities, corruption error relative to late fusion, ranking):
pdf_core.robustness.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pdf_core import figures, paper_tables, paths, robustness, significance
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
    # diagnostics (pdf_core.evaluate): each head of a late-fusion model alone, and the fit of the selected epoch
    "accuracy_txt_head",
    "accuracy_img_head",
    "train_accuracy",
    "selected_epoch",
]

# the weight diagnostic of an eval JSON, per modality: its field -> the column stem in the tables
DIAGNOSTIC_FIELDS = {"auroc_lower_weight_noised": "weight_auroc", "spearman_weight_head_ce": "weight_spearman_ce"}
MODALITIES = ("txt", "img")
DIAGNOSTIC_COLUMNS = [f"{stem}_{modality}" for stem in DIAGNOSTIC_FIELDS.values() for modality in MODALITIES]


def flatten_weight_diagnostic(rec: dict, path: Path) -> None:
    """Move ``weight_diagnostic.<modality>.<field>`` of one eval record into flat ``<stem>_<modality>`` keys."""
    for modality, values in rec.pop("weight_diagnostic", {}).items():
        for field, stem in DIAGNOSTIC_FIELDS.items():
            if modality not in MODALITIES or field not in values:
                problem = f"lacks {field}" if modality in MODALITIES else f"is not one of {', '.join(MODALITIES)}"
                raise ValueError(f"{path}: weight_diagnostic.{modality} {problem}; rerun its evaluate stage")
            rec[f"{stem}_{modality}"] = values[field]


def load_evaluations(eval_paths: list[Path]) -> pd.DataFrame:
    rows = []
    for path in eval_paths:
        rec = read_json(path)
        flatten_weight_diagnostic(rec, path)
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
    diagnostic = diagnostic_summary(evals)
    if diagnostic is not None:
        summary = summary.merge(diagnostic, on=KEYS, how="left")
    return summary.sort_values(KEYS).reset_index(drop=True)


def diagnostic_summary(evals: pd.DataFrame) -> pd.DataFrame | None:
    """Mean and std over train seeds (each first averaged over its eval seeds) of every diagnostic column;
    the std of a single seed's value is 0, as for the accuracy. None when no evaluation has the diagnostic."""
    columns = [c for c in DIAGNOSTIC_COLUMNS if c in evals]
    if not columns:
        return None
    values = evals[KEYS + ["seed"]].join(evals[columns].astype(float))  # null -> NaN, skipped by mean and std
    per_seed = values.groupby(KEYS + ["seed"], as_index=False)[columns].mean()
    grouped = per_seed.groupby(KEYS)[columns]
    means, stds = grouped.mean(), grouped.std()
    out = pd.DataFrame(index=means.index)
    for column in columns:
        out[f"{column}_mean"] = means[column]
        out[f"{column}_std"] = stds[column].where(stds[column].notna() | means[column].isna(), 0.0)
    return out.reset_index()


TITLE = "Accuracy under test-time noise (mean ± std over train seeds, %)"


def accuracy_tables(summary: pd.DataFrame, marked: set[tuple] = frozenset()) -> dict[str, pd.DataFrame]:
    """Per dataset: rows = models, columns = noise type x level, cells = 'mean ± std' accuracy in %,
    with a † on the ``marked`` (dataset, model, noise type, level) cells."""
    tables = {}
    for dataset, part in summary.groupby("dataset"):
        marks = [(dataset, r.model, r.noise_type, r.noise_level) in marked for r in part.itertuples()]
        cells = part.assign(
            cell=[
                f"{100 * m:.2f} ± {100 * s:.2f}{' †' if hit else ''}"
                for m, s, hit in zip(part.acc_mean, part.acc_std, marks, strict=True)
            ],
            column=[f"{t} ε={lvl:g}" for t, lvl in zip(part.noise_type, part.noise_level, strict=True)],
        )
        order = [f"{t} ε={lvl:g}" for t, lvl in sorted(set(zip(part.noise_type, part.noise_level, strict=True)))]
        table = cells.pivot(index="model", columns="column", values="cell").reindex(columns=order).fillna("–")
        table.index.name, table.columns.name = "model", None
        tables[dataset] = table
    return tables


def _seeds_line(summary: pd.DataFrame) -> str:
    return f"Train seeds per cell: {', '.join(map(str, sorted(summary['n_runs'].unique())))}."


def significant_cells(pairs: pd.DataFrame) -> set[tuple]:
    """(dataset, model, noise type, level) of every method significantly different from its reference."""
    if pairs.empty:
        return set()
    hits = pairs[pairs.significant]
    return set(zip(hits.dataset, hits.model, hits.noise_type, hits.noise_level, strict=True))


def markdown_table(
    summary: pd.DataFrame, marked: set[tuple] = frozenset(), significance_cfg: dict | None = None
) -> str:
    """The accuracy tables; ``marked`` cells get a † (significantly different from the reference)."""
    lines = [f"# {TITLE}", ""]
    for dataset, table in accuracy_tables(summary, marked).items():
        lines += [f"## {dataset}", "", *paper_tables.markdown_model_table(table)]
        lines.append("")
    lines += [_seeds_line(summary), *_dagger_note(significance_cfg)]
    return "\n".join(lines) + "\n"


def _dagger_note(significance_cfg: dict | None) -> list[str]:
    if significance_cfg is None:
        return []
    return [
        f"† differs from {significance_cfg['baseline']} at α = {significance_cfg['alpha']} (paired t-test over "
        "train seeds); differences, intervals and both tests: significance.md."
    ]


def html_page(title: str, body: str) -> str:
    """A standalone HTML page (what `snakemake --report` shows inline)."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif} td,th{padding:4px 10px;text-align:right}</style></head>"
        f"<body><h1>{title}</h1>{body}</body></html>\n"
    )


def html_table(summary: pd.DataFrame, marked: set[tuple] = frozenset(), significance_cfg: dict | None = None) -> str:
    """The same tables as markdown_table, as a page."""
    body = "".join(
        f"<h2>{dataset}</h2>{table.to_html(border=1, index_names=False)}"
        for dataset, table in accuracy_tables(summary, marked).items()
    )
    notes = "".join(f"<p>{line}</p>" for line in [_seeds_line(summary), *_dagger_note(significance_cfg)])
    return html_page(TITLE, body + notes)


HEADS_TITLE = "Fused accuracy against the model's own heads and its fit, clean test set (mean over train seeds, %)"


def heads_markdown(summary: pd.DataFrame) -> str:
    """Per dataset, at noise level 0: the fused accuracy (mean ± std), each modality head alone, the
    training-set accuracy and the epoch dev selection kept. A fusion model below its better head, or a
    train accuracy near 100 % at an early epoch, shows here rather than in the logs."""
    clean = summary[summary.noise_level == 0]
    clean = clean[clean.noise_type == clean.noise_type.min()]  # ε = 0 is the same test set for every type

    def pct(r, column) -> str:
        value = getattr(r, column, None)
        return "–" if value is None or pd.isna(value) else f"{100 * value:.2f}"

    lines = [f"# {HEADS_TITLE}", ""]
    for dataset, part in clean.groupby("dataset"):
        lines += [
            f"## {dataset}",
            "",
            "| model | fused | text head | image head | train acc. at selected epoch | selected epoch |",
            "|---|---|---|---|---|---|",
        ]
        for r in part.itertuples():
            epoch = getattr(r, "selected_epoch_mean", None)
            heads = " | ".join(pct(r, c) for c in ("accuracy_txt_head_mean", "accuracy_img_head_mean"))
            lines.append(
                f"| {r.model} | {100 * r.acc_mean:.2f} ± {100 * r.acc_std:.2f} | {heads} | "
                f"{pct(r, 'train_accuracy_mean')} | {'–' if epoch is None or pd.isna(epoch) else f'{epoch:g}'} |"
            )
        lines.append("")
    lines.append("Heads: the argmax of one modality's logits inside the fusion model (late-fusion models only).")
    return "\n".join(lines) + "\n"


def dvc_metrics(summary: pd.DataFrame, robustness_table: pd.DataFrame | None = None) -> dict:
    """dataset -> model -> '<noise type>_<level>' -> accuracy mean and std; with ``robustness_table``, also
    each method's ``mce`` where it is defined (pdf_core.robustness)."""
    out: dict = {}
    for r in summary.itertuples():
        cell = out.setdefault(r.dataset, {}).setdefault(r.model, {})
        cell[f"{r.noise_type}_{r.noise_level:g}"] = {"acc_mean": round(r.acc_mean, 6), "acc_std": round(r.acc_std, 6)}
    if robustness_table is not None:
        for (dataset, model), mce in robustness_table.groupby(["dataset", "model"]).mce.first().dropna().items():
            out[dataset][model]["mce"] = round(mce, 6)
    return out


def aggregate(eval_paths: list[Path], out_dir: Path, significance_cfg: dict) -> pd.DataFrame:
    """Every file of the aggregate stage (pdf_core.paths.result_files) from the evaluation JSONs."""
    out = paths.result_files(out_dir)
    evals = load_evaluations(eval_paths)
    summary = summarize(evals)
    pairs = significance.significance_table(evals, significance_cfg)
    marked, alpha = significant_cells(pairs), significance_cfg["alpha"]
    with atomic_path(out["csv"], suffix=".csv") as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6f")
    with atomic_path(out["significance_csv"], suffix=".csv") as tmp:
        pairs.to_csv(tmp, index=False, float_format="%.6g")
    write_text(out["md"], markdown_table(summary, marked, significance_cfg))
    write_text(out["heads"], heads_markdown(summary))
    write_text(out["significance_md"], significance.markdown(pairs, alpha))
    write_text(out["significance_html"], html_page(significance.HTML_TITLE, significance.html_body(pairs, alpha)))
    write_text(out["html"], html_table(summary, marked, significance_cfg))
    write_text(out["tex"], paper_tables.summary_tex(summary))
    write_text(out["table2"], paper_tables.table2_tex(summary))
    robust, undefined_ce = robustness.robustness_table(summary)
    with atomic_path(out["robustness_csv"], suffix=".csv") as tmp:
        robust.to_csv(tmp, index=False, float_format="%.6f")
    write_text(out["robustness_md"], robustness.markdown(robust, undefined_ce, summary))
    write_text(out["robustness_html"], html_page(robustness.TITLE, robustness.html_body(robust, undefined_ce, summary)))
    write_json(out["metrics"], dvc_metrics(summary, robust))
    figures.plot_accuracy(summary, out["plot"])
    figures.plot_fusion_weights(summary, out["fusion_weights"])
    figures.plot_reliability(evals, out["reliability"])
    figures.plot_weight_auroc(summary, out["weight_auroc"])
    figures.plot_robustness(robust, out["robustness_plot"])
    log.info("aggregated %d evaluations into %d rows", len(eval_paths), len(summary))
    return summary
