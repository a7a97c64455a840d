"""LaTeX tables (pdf_core.paper_tables): booktabs layout, column count, best per column in bold."""

import re

import pandas as pd

from pdf_core.aggregate import summarize
from pdf_core.paper_tables import summary_tex, table2_tex


def _summary():
    rows = []
    accs = {
        "bert": (0.70, 0.60, 0.50),
        "img": (0.50, 0.40, 0.45),
        "latefusion": (0.72, 0.55, 0.52),
        "qmf": (0.74, 0.58, 0.56),
    }  # per level 0, 5, 10; bert is best at ε=5 for gaussian
    for model, by_level in accs.items():
        for noise_type in ("gaussian", "salt_pepper"):
            for level, acc in zip((0, 5, 10), by_level, strict=True):
                for seed, shift in ((1, -0.01), (2, 0.01)):
                    rows.append(
                        {
                            "dataset": "mvsa",
                            "model": model,
                            "seed": seed,
                            "noise_type": noise_type,
                            "noise_level": level,
                            "eval_seed": 1,
                            "accuracy": acc + shift,
                        }
                    )
    return summarize(pd.DataFrame(rows))


def test_summary_tex_is_a_booktabs_tabular_with_bold_column_maxima():
    tex = summary_tex(_summary())
    assert "\\begin{tabular}{lcccccc}" in tex  # model + 2 noise types x 3 levels
    assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule")
    rows = {line.split(" & ")[0]: line for line in tex.splitlines() if line.endswith("\\\\") and " & " in line}
    separators = [len(re.findall(r"(?<!\\)&", r)) for r in rows.values()]  # not the escaped \& of "Salt \& pepper"
    assert "Model" in rows and set(separators) == {6}
    # exactly one bold cell per column, on the best mean: qmf at ε=0 and 10, bert at ε=5 (both types)
    assert tex.count("\\textbf{") == 6
    cells = rows["qmf"].rstrip(" \\").split(" & ")[1:]
    assert cells[0] == "\\textbf{74.00 $\\pm$ 1.41}" and not cells[1].startswith("\\textbf")
    assert rows["bert"].split(" & ")[2].startswith("\\textbf{60.00")


def test_table2_groups_rows_like_the_paper():
    tex = table2_tex(_summary())
    assert "\\begin{tabular}{lccccc}" in tex  # model, clean, gaussian 5/10, salt & pepper 5/10
    assert re.search(r"Unimodal.*bert.*img.*Static fusion.*latefusion.*Dynamic fusion.*qmf", tex, re.S)
    assert "\\multicolumn{2}{c}{Gaussian}" in tex and "\\multicolumn{2}{c}{Salt \\& pepper}" in tex
    assert "\\cmidrule(lr){3-4} \\cmidrule(lr){5-6}" in tex
