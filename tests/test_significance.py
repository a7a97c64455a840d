"""Paired tests over train seeds (pdf_core.significance) against hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from pdf_core.aggregate import markdown_table, significant_cells, summarize
from pdf_core.significance import min_wilcoxon_p, paired_stats, significance_table

CFG = {"baseline": "latefusion", "pairs": [["qmf", "tmc"]], "alpha": 0.05, "bootstrap_samples": 2000, "seed": 0}


def test_paired_t_test_by_hand():
    # d = (0.02, 0.04, 0.03): mean 0.03, sd 0.01, t = 0.03 / (0.01 / sqrt 3) = sqrt 27 = 5.196152
    # t with 2 degrees of freedom: two-sided p = 1 - t / sqrt(t^2 + 2) = 1 - sqrt(27 / 29) = 0.035099
    out = paired_stats(np.array([0.02, 0.04, 0.03]), alpha=0.05, bootstrap_samples=2000, seed=0)
    assert out["mean_diff"] == pytest.approx(0.03)
    assert out["t"] == pytest.approx(27**0.5)
    assert out["p_t"] == pytest.approx(1 - (27 / 29) ** 0.5, rel=1e-9)
    assert out["significant"]
    # exact signed-rank, all three differences positive: p = 2 * (1 / 2^3) = 0.25, the smallest possible
    assert out["p_wilcoxon"] == pytest.approx(0.25) == min_wilcoxon_p(3)
    # bootstrap means of resampled seeds lie between the smallest and largest difference
    assert 0.02 <= out["ci_low"] <= 0.03 <= out["ci_high"] <= 0.04


def test_wilcoxon_with_mixed_signs_and_a_tie_in_magnitude():
    # d = (+1, -2, +3, +4): ranks 1, 2, 3, 4; W+ = 8, W- = 2; P(W- <= 2) over 16 sign patterns is
    # 3/16 ({}, {1}, {2}), two-sided p = 6/16 = 0.375
    out = paired_stats(np.array([1.0, -2.0, 3.0, 4.0]), alpha=0.05, bootstrap_samples=500, seed=1)
    assert out["p_wilcoxon"] == pytest.approx(0.375)
    assert min_wilcoxon_p(5) == pytest.approx(0.0625)


def test_table_compares_every_fusion_method_with_the_baseline_and_named_pairs():
    rows = []
    for seed, base in ((1, 0.60), (2, 0.70), (3, 0.65)):
        for model, shift in (("latefusion", 0.0), ("qmf", 0.02 + 0.01 * seed), ("tmc", 0.01), ("bert", 0.05)):
            for eval_seed in (1, 2):
                rows.append(
                    {
                        "dataset": "d",
                        "model": model,
                        "seed": seed,
                        "noise_type": "gaussian",
                        "noise_level": 10,
                        "eval_seed": eval_seed,
                        "accuracy": base + shift,
                    }
                )
    evals = pd.DataFrame(rows)
    table = significance_table(evals, CFG)
    assert set(zip(table.model, table.reference, strict=True)) == {
        ("qmf", "latefusion"),
        ("tmc", "latefusion"),
        ("qmf", "tmc"),
    }  # bert is unimodal
    qmf = table[(table.model == "qmf") & (table.reference == "latefusion")].iloc[0]
    # d = (0.03, 0.04, 0.05): t = 0.04 / (0.01 / sqrt 3) = sqrt 48, p = 1 - sqrt(48 / 50) = 0.0202 < 0.05
    assert qmf.mean_diff == pytest.approx(0.04) and qmf.p_t == pytest.approx(1 - (48 / 50) ** 0.5) and qmf.n_seeds == 3
    tmc = table[(table.model == "tmc") & (table.reference == "latefusion")].iloc[0]
    assert np.isnan(tmc.p_t) and not tmc.significant  # the same +0.01 on every seed: no variance
    marked = significant_cells(table)
    assert ("d", "qmf", "gaussian", 10) in marked
    md = markdown_table(summarize(evals), marked, CFG)
    assert "| qmf | 69.00 ± 5.57 † |" in md and "† differs from latefusion at α = 0.05" in md
