"""Tables to paste: LaTeX (booktabs) — the flat summary and the QMF paper's Table 2 layout — and markdown rows.

Cells are accuracy in % as ``mean ± std`` over train seeds; the best mean of each column (per
dataset) is bold. ``table2`` groups the rows as the QMF paper does — unimodal, static fusion,
dynamic fusion (each model's ``GROUP``) — with the clean column once, then ε > 0 per noise type.
"""

from __future__ import annotations

import pandas as pd

from pdf_core.models import GROUPS, model_group

GROUP_TITLES = {"unimodal": "Unimodal", "static": "Static fusion", "dynamic": "Dynamic fusion"}
NOISE_TITLES = {"gaussian": "Gaussian", "salt_pepper": "Salt \\& pepper"}


def markdown_model_table(table: pd.DataFrame) -> list[str]:
    """The lines of a markdown table with a row per model (``table``'s index) and its columns, cells as given."""
    lines = ["| model | " + " | ".join(table.columns) + " |", "|---|" + "---|" * len(table.columns)]
    return lines + [f"| {model} | " + " | ".join(row) + " |" for model, row in table.iterrows()]


def latex_escape(text: str) -> str:
    for char, escaped in (("\\", "\\textbackslash{}"), ("_", "\\_"), ("&", "\\&"), ("%", "\\%"), ("#", "\\#")):
        text = text.replace(char, escaped)
    return text


def _cells(part: pd.DataFrame, columns: list[tuple[str, float]]) -> dict[str, list[str]]:
    """model -> formatted cells of ``columns`` ((noise type, level)), the column's best mean in bold."""
    acc = part.set_index(["model", "noise_type", "noise_level"])
    best = {col: acc.xs(col, level=["noise_type", "noise_level"]).acc_mean.max() for col in columns}
    out = {}
    for model in sorted(part.model.unique()):
        row = []
        for col in columns:
            if (model, *col) not in acc.index:
                row.append("--")
                continue
            r = acc.loc[(model, *col)]
            cell = f"{100 * r.acc_mean:.2f} $\\pm$ {100 * r.acc_std:.2f}"
            row.append(f"\\textbf{{{cell}}}" if r.acc_mean == best[col] else cell)
        out[model] = row
    return out


def _columns(part: pd.DataFrame) -> list[tuple[str, float]]:
    return sorted({(t, lvl) for t, lvl in zip(part.noise_type, part.noise_level, strict=True)})


def summary_tex(summary: pd.DataFrame) -> str:
    """One booktabs tabular per dataset: rows = models, columns = noise type x level."""
    blocks = ["% Accuracy (%) under test-time noise, mean ± std over train seeds; best per column in bold."]
    for dataset, part in summary.groupby("dataset"):
        columns = _columns(part)
        header = " & ".join(f"{NOISE_TITLES.get(t, latex_escape(t))} $\\epsilon={lvl:g}$" for t, lvl in columns)
        blocks += [
            f"% {latex_escape(dataset)}",
            f"\\begin{{tabular}}{{l{'c' * len(columns)}}}",
            "\\toprule",
            f"Model & {header} \\\\",
            "\\midrule",
            *(f"{latex_escape(m)} & {' & '.join(row)} \\\\" for m, row in _cells(part, columns).items()),
            "\\bottomrule",
            "\\end{tabular}",
            "",
        ]
    return "\n".join(blocks)


def table2_tex(summary: pd.DataFrame) -> str:
    """The QMF paper's Table 2 layout: grouped rows; clean, then each noise type's levels ε > 0."""
    blocks = ["% QMF Table 2 layout: accuracy (%), mean ± std over train seeds; best per column in bold."]
    for dataset, part in summary.groupby("dataset"):
        types = sorted(part.noise_type.unique())
        noisy = [(t, lvl) for t, lvl in _columns(part) if lvl > 0]
        clean = [(types[0], 0.0)] if (part.noise_level == 0).any() else []  # ε = 0 is the same for every type
        columns = clean + noisy
        cells = _cells(part, columns)
        levels = sorted({lvl for _, lvl in noisy})
        spans = [f"\\multicolumn{{{len(levels)}}}{{c}}{{{NOISE_TITLES.get(t, latex_escape(t))}}}" for t in types]
        rules = [
            f"\\cmidrule(lr){{{2 + len(clean) + i * len(levels)}-{1 + len(clean) + (i + 1) * len(levels)}}}"
            for i in range(len(types))
        ]
        lines = [
            f"% {latex_escape(dataset)}",
            f"\\begin{{tabular}}{{l{'c' * len(columns)}}}",
            "\\toprule",
            " & ".join(["", *(["Clean"] if clean else []), *spans]) + " \\\\",
            " ".join(rules),
            " & ".join(["Model", *([""] if clean else []), *(f"$\\epsilon={lvl:g}$" for _ in types for lvl in levels)])
            + " \\\\",
        ]
        for group in GROUPS:
            members = [m for m in cells if model_group(m) == group]
            if members:
                lines += [
                    "\\midrule",
                    f"\\multicolumn{{{1 + len(columns)}}}{{l}}{{\\emph{{{GROUP_TITLES[group]}}}}} \\\\",
                ]
                lines += [f"{latex_escape(m)} & {' & '.join(cells[m])} \\\\" for m in members]
        blocks += lines + ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(blocks)
