"""Paired significance over train seeds: is a method's difference to a reference more than seed noise?

The paired unit is the train seed. Each seed's accuracy is first averaged over the eval seeds (as in
the summary), then for every dataset x noise type x level and every pair (method, reference) trained
on the same seeds the differences d_s = acc_method(s) - acc_reference(s) give:

* the mean difference and a percentile bootstrap interval of it (seeds resampled with replacement,
  ``bootstrap_samples`` draws from ``seed``; level 1 - alpha);
* the paired t-test, t = mean(d) / (sd(d) / sqrt(n)) with n - 1 degrees of freedom (two-sided);
* the exact Wilcoxon signed-rank test (two-sided; zero differences dropped).

A difference is marked significant when the t-test's p < alpha. With n seeds the exact Wilcoxon
p-value cannot fall below 2 / 2^n (0.25 for 3 seeds, 0.0625 for 5): :func:`min_wilcoxon_p` says so
in the report, so nobody reads "not significant" there as evidence of no difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pdf_core.models import model_group

CONDITION = ["dataset", "noise_type", "noise_level"]


def per_seed_accuracy(evals: pd.DataFrame) -> pd.DataFrame:
    """dataset, model, noise type, level, seed -> accuracy averaged over eval seeds."""
    return evals.groupby(CONDITION + ["model", "seed"], as_index=False)["accuracy"].mean()


def min_wilcoxon_p(n: int) -> float:
    """The smallest two-sided p-value an exact signed-rank test on n nonzero differences can give."""
    return min(1.0, 2.0 / 2**n)


def paired_stats(diffs: np.ndarray, alpha: float, bootstrap_samples: int, seed: int) -> dict:
    """Mean difference, bootstrap interval, paired t-test and exact Wilcoxon test of ``diffs``."""
    diffs = np.asarray(diffs, dtype=float)
    n = len(diffs)
    out = {"n_seeds": n, "mean_diff": float(diffs.mean())}
    draws = np.random.default_rng(seed).integers(0, n, size=(bootstrap_samples, n))
    boot = diffs[draws].mean(axis=1)
    out["ci_low"], out["ci_high"] = (float(q) for q in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
    sd = diffs.std(ddof=1) if n > 1 else 0.0
    if n > 1 and sd > 0:
        out["t"] = float(diffs.mean() / (sd / np.sqrt(n)))
        out["p_t"] = float(2 * stats.t.sf(abs(out["t"]), df=n - 1))
    else:  # one seed, or the same difference on every seed: the t-test is undefined
        out["t"], out["p_t"] = float("nan"), float("nan")
    nonzero = diffs[diffs != 0]
    out["p_wilcoxon"] = float(stats.wilcoxon(nonzero, method="exact").pvalue) if len(nonzero) else 1.0
    out["significant"] = bool(out["p_t"] < alpha)
    return out


def comparison_pairs(models: list[str], baseline: str, extra_pairs: list[list[str]]) -> list[tuple[str, str]]:
    """Every fusion method (static or dynamic group) against ``baseline``, then the pairs named in params."""
    pairs = [(m, baseline) for m in models if m != baseline and model_group(m) != "unimodal"]
    if baseline not in models:
        pairs = []
    pairs += [(a, b) for a, b in extra_pairs if a in models and b in models and (a, b) not in pairs]
    return pairs


def significance_table(evals: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """One row per condition and pair; ``cfg`` is the ``significance`` block of params.yaml."""
    acc = per_seed_accuracy(evals)
    pairs = comparison_pairs(sorted(acc.model.unique()), cfg["baseline"], cfg["pairs"])
    rows = []
    for condition, part in acc.groupby(CONDITION):
        by_model = part.pivot(index="seed", columns="model", values="accuracy")
        for model, reference in pairs:
            both = by_model[[model, reference]].dropna()  # the seeds both were trained on
            if both.empty:
                continue
            diffs = (both[model] - both[reference]).to_numpy()
            stats_row = paired_stats(diffs, cfg["alpha"], cfg["bootstrap_samples"], cfg["seed"])
            rows.append(dict(zip(CONDITION, condition, strict=True), model=model, reference=reference, **stats_row))
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, alpha: float) -> str:
    """The significance table for people: differences in accuracy points, one section per dataset."""
    lines = ["# Paired differences over train seeds", ""]
    if table.empty:
        return "\n".join(lines + ["No pairs to compare (the reference model is not in the grid).", ""])
    n = int(table.n_seeds.max())
    lines.append(
        f"Paired unit: the train seed ({n} seeds; each averaged over eval seeds). * marks p_t < {alpha} "
        f"(paired t-test). With {n} seeds the exact Wilcoxon test cannot give p below {min_wilcoxon_p(n):.4g}"
        + (", so it can never be significant at this level." if min_wilcoxon_p(n) >= alpha else ".")
    )
    lines.append("")
    for dataset, part in table.groupby("dataset"):
        lines += [
            f"## {dataset}",
            "",
            f"| condition | method − reference | Δ acc (points) | {100 * (1 - alpha):g}% bootstrap CI | t | p (t-test) "
            "| p (Wilcoxon) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in part.itertuples():
            mark = " *" if r.significant else ""
            diff = round(100 * r.mean_diff, 2) + 0.0  # + 0.0: no "-0.00"
            lines.append(
                f"| {r.noise_type} ε={r.noise_level:g} | {r.model} − {r.reference} | {diff:+.2f}{mark} "
                f"| [{100 * r.ci_low:+.2f}, {100 * r.ci_high:+.2f}] | {r.t:.2f} | {r.p_t:.3g} | {r.p_wilcoxon:.3g} |"
            )
        lines.append("")
    return "\n".join(lines)


HTML_TITLE = "Paired differences over train seeds (accuracy points)"


def html_body(table: pd.DataFrame, alpha: float) -> str:
    """The same table for a page (pdf_core.aggregate.html_page; shown inline by `snakemake --report`)."""
    body = "<p>No pairs to compare.</p>"
    if not table.empty:
        n = int(table.n_seeds.max())
        shown = table.assign(
            condition=[f"{t} ε={lvl:g}" for t, lvl in zip(table.noise_type, table.noise_level, strict=True)],
            pair=[f"{m} − {r}" for m, r in zip(table.model, table.reference, strict=True)],
            diff=(100 * table.mean_diff).round(2),
            ci=[f"[{100 * lo:+.2f}, {100 * hi:+.2f}]" for lo, hi in zip(table.ci_low, table.ci_high, strict=True)],
        )
        columns = ["condition", "pair", "diff", "ci", "t", "p_t", "p_wilcoxon", "significant"]
        body = f"<p>{n} train seeds; significant: p_t &lt; {alpha}; exact Wilcoxon p ≥ {min_wilcoxon_p(n):.4g}.</p>"
        body += "".join(
            f"<h2>{dataset}</h2>{part[columns].to_html(index=False, border=1, float_format='%.3g')}"
            for dataset, part in shown.groupby("dataset")
        )
    return body
