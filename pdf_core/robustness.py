"""Robustness per noise family, reported as ImageNet-C reports it (Hendrycks & Dietterich, ICLR 2019).

A family is one noise type of the grid, its severities the grid's levels ε > 0 (docs/noise.md maps a
level onto a family's severity). From the summary's accuracy (mean over train seeds, each first averaged
over its eval seeds), per dataset, method m and family f:

* mean accuracy: the mean of acc_m(f, s) over the severities s;
* corruption error relative to late fusion, with err = 1 − acc:
  ``CE_f(m) = Σ_s err_m(f, s) / Σ_s err_latefusion(f, s)`` (1 = as late fusion, lower is better; the
  tables print it × 100 as ImageNet-C does). Undefined (empty) where late fusion is not in the grid,
  lacks one of m's severities, or makes no error at all at them;
* ``mCE(m)`` = the mean of CE_f(m) over the families where it is defined;
* rank: the methods of one dataset and family ordered by mean accuracy, 1 = the highest (ties share the
  better rank). Where CE is defined the order is the same (one denominator for every method).
:mod:`pdf_core.aggregate` writes it (results/robustness.{csv,md,html}), :mod:`pdf_core.figures` draws it.
"""

from __future__ import annotations

import pandas as pd

from pdf_core.noise_types import NOISE_DECLARATIONS, NOISE_TYPE_NAMES, level_fraction, severity
from pdf_core.paper_tables import markdown_model_table

CE_REFERENCE = "latefusion"  # static late fusion: the "AlexNet" every CE is relative to
COLUMNS = ["dataset", "model", "noise_type", "levels", "mean_acc", "ce", "rank", "mce"]
TITLE = f"Robustness per noise family (mean over train seeds; CE relative to {CE_REFERENCE})"


def family_order(families) -> list[str]:
    """``families`` in declaration order (pdf_core.noise_types): the paper's two, image, then text families."""
    return sorted(families, key=NOISE_TYPE_NAMES.index)


def level_tick(noise_type: str, level: float) -> str:
    """What a grid level means for a family: the paper's types take ε as it is, a missing-modality type
    the share of samples that lose it, every other family its severity (docs/noise.md, *Severities*)."""
    declared = NOISE_DECLARATIONS[noise_type]
    if level == 0 or declared.paper:
        return f"{level:g}"
    if level_fraction in (declared.image_rate, declared.text_rate):
        return f"{level:g}\n({100 * level_fraction(level):g} %)"
    return f"{level:g}\n(sev. {severity(level)})"


def corruption_error(acc: pd.Series, reference: pd.Series) -> tuple[float | None, str | None]:
    """CE of accuracies ``acc`` (by level) against ``reference``'s at the same levels, or (None, why not)."""
    if reference.empty:
        return None, f"{CE_REFERENCE} is not in the grid"
    missing = [level for level in acc.index if level not in reference.index]
    if missing:
        return None, f"{CE_REFERENCE} has no accuracy at ε = {', '.join(f'{lvl:g}' for lvl in missing)}"
    reference_error = (1.0 - reference.loc[acc.index]).sum()
    if reference_error <= 0:
        return None, f"{CE_REFERENCE} makes no error at these severities"
    return float((1.0 - acc).sum() / reference_error), None


def robustness_table(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """One row per dataset, method and family with a level > 0 (:data:`COLUMNS`; ``mce`` is the method's,
    the same on each of its rows), and why CE is undefined, by (dataset, family)."""
    noisy = summary[summary.noise_level > 0]
    rows, undefined = [], {}
    for dataset, in_dataset in noisy.groupby("dataset"):
        for family in family_order(in_dataset.noise_type.unique()):
            part = in_dataset[in_dataset.noise_type == family]
            by_model = {
                model: runs.set_index("noise_level").acc_mean.sort_index() for model, runs in part.groupby("model")
            }
            reference = by_model.get(CE_REFERENCE, pd.Series(dtype=float))
            for model, acc in by_model.items():
                ce, why = corruption_error(acc, reference)
                if why is not None:
                    undefined[dataset, family] = why
                levels = ";".join(f"{lvl:g}" for lvl in acc.index)
                rows.append(
                    {
                        "dataset": dataset,
                        "model": model,
                        "noise_type": family,
                        "levels": levels,
                        "mean_acc": acc.mean(),
                        "ce": ce,
                    }
                )
    table = pd.DataFrame(rows, columns=COLUMNS[:-2]).astype({"ce": float})
    table["rank"] = table.groupby(["dataset", "noise_type"]).mean_acc.rank(ascending=False, method="min").astype(int)
    table["mce"] = table.groupby(["dataset", "model"]).ce.transform("mean")  # undefined CEs (NaN) left out
    # rows by dataset and model, each method's families in declaration order (the order they were added)
    return table.sort_values(["dataset", "model"], kind="stable").reset_index(drop=True), undefined


def _pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{100 * value:.2f}"


def _ce(value: float) -> str:
    return "–" if pd.isna(value) else f"{100 * value:.1f}"


def dataset_tables(table: pd.DataFrame, summary: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per dataset, for people: (methods x families, each cell 'mean accuracy % (CE)' or the accuracy alone where
    CE is undefined, with the clean accuracy
    and mCE; families x the methods in rank order)."""
    clean = summary[summary.noise_level == 0].groupby(["dataset", "model"]).acc_mean.first()
    out = {}
    for dataset, part in table.groupby("dataset"):
        families = family_order(part.noise_type.unique())
        cells = part.assign(
            cell=[_pct(a) + ("" if pd.isna(c) else f" ({_ce(c)})") for a, c in zip(part.mean_acc, part.ce, strict=True)]
        )
        grid = cells.pivot(index="model", columns="noise_type", values="cell").reindex(columns=families).fillna("–")
        grid.insert(0, "clean", [_pct(clean.get((dataset, model), float("nan"))) for model in grid.index])
        grid["mCE"] = [_ce(v) for v in part.groupby("model").mce.first().reindex(grid.index)]
        grid.index.name, grid.columns.name = "model", None
        ranking = pd.DataFrame(
            {"ranking, best first": [_ranking(part[part.noise_type == family]) for family in families]},
            index=pd.Index(families, name="family"),
        )
        out[dataset] = grid, ranking
    return out


def _ranking(part: pd.DataFrame) -> str:
    """'a > b = c > d': methods by rank, ties joined by '='."""
    groups = part.sort_values(["rank", "model"]).groupby("rank", sort=True).model.agg(" = ".join)
    return " > ".join(groups)


def _notes(undefined: dict[tuple[str, str], str], dataset: str) -> list[str]:
    mine = {family: why for (ds, family), why in undefined.items() if ds == dataset}
    return [f"CE of {family} undefined: {mine[family]}." for family in family_order(mine)]


INTRO = (
    "Per family (a noise type of the grid) over its severities, the levels ε > 0: the mean accuracy (%) and, in "
    f"brackets, the corruption error CE = Σ err / Σ err of {CE_REFERENCE} at the same severities (× 100: 100 = as "
    f"{CE_REFERENCE}, lower is better); mCE = the mean CE over the families where it is defined; clean = ε = 0. "
    "The accuracy at each level: summary.md and accuracy_vs_noise.png."
)


def markdown(table: pd.DataFrame, undefined: dict, summary: pd.DataFrame) -> str:
    lines = [f"# {TITLE}", "", INTRO, ""]
    if table.empty:
        return "\n".join(lines + ["No noise level above 0 in the grid: nothing to report.", ""])
    for dataset, (grid, ranking) in dataset_tables(table, summary).items():
        lines += [f"## {dataset}", "", *markdown_model_table(grid)]
        lines += ["", "| family | ranking by mean accuracy, best first |", "|---|---|"]
        lines += [f"| {family} | {row.iloc[0]} |" for family, row in ranking.iterrows()]
        lines += ["", *_notes(undefined, dataset)]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def html_body(table: pd.DataFrame, undefined: dict, summary: pd.DataFrame) -> str:
    """The same tables as :func:`markdown`, for a page (pdf_core.aggregate.html_page)."""
    body = f"<p>{INTRO}</p>"
    if table.empty:
        return body + "<p>No noise level above 0 in the grid: nothing to report.</p>"
    for dataset, (grid, ranking) in dataset_tables(table, summary).items():
        notes = "".join(f"<p>{note}</p>" for note in _notes(undefined, dataset))
        body += f"<h2>{dataset}</h2>{grid.to_html(border=1)}{ranking.to_html(border=1)}{notes}"
    return body
