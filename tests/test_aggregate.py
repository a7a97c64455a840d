"""Aggregation: per-seed mean over eval seeds, then mean ± std over train seeds."""

import json

import pandas as pd
import pytest

from pdf_core.aggregate import aggregate, markdown_table, summarize


def _eval(dataset, model, seed, noise_type, level, eval_seed, acc):
    return {
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "noise_type": noise_type,
        "noise_level": level,
        "eval_seed": eval_seed,
        "accuracy": acc,
        "macro_f1": acc,
        "nll": 1.0,
        "ece": 0.1,
    }


def test_mean_over_eval_seeds_then_std_over_train_seeds():
    evals = pd.DataFrame(
        [
            _eval("d", "qmf", 1, "gaussian", 5, 1, 0.6),
            _eval("d", "qmf", 1, "gaussian", 5, 2, 0.8),  # seed 1 -> 0.7
            _eval("d", "qmf", 2, "gaussian", 5, 1, 0.9),
            _eval("d", "qmf", 2, "gaussian", 5, 2, 0.9),  # seed 2 -> 0.9
        ]
    )
    row = summarize(evals).iloc[0]
    assert row.n_runs == 2
    assert row.acc_mean == pytest.approx(0.8)
    assert row.acc_std == pytest.approx(0.1414213562)  # sample std of (0.7, 0.9)


def test_single_seed_has_zero_std_and_table_formats_percent():
    summary = summarize(pd.DataFrame([_eval("d", "bow", 1, "gaussian", 0, 1, 0.5)]))
    assert summary.iloc[0].acc_std == 0.0
    assert "| bow | 50.00 ± 0.00 |" in markdown_table(summary)


SIGNIFICANCE = {"baseline": "latefusion", "pairs": [], "alpha": 0.05, "bootstrap_samples": 1000, "seed": 0}
BINS = {"count": [0, 2, 1], "confidence": [None, 0.5, 0.9], "accuracy": [None, 0.5, 1.0]}


def test_aggregate_writes_every_result_file(tmp_path):
    paths = []
    for model, seed, level, acc in [
        (m, s, lvl, a)
        for m, shift in (("qmf", 0.1), ("latefusion", 0.0))
        for s, base in ((1, 0.5), (2, 0.7))
        for lvl in (0, 10)
        for a in [base + shift - lvl / 100]
    ]:
        d = tmp_path / "runs" / "d" / model / f"seed{seed}" / "eval"
        d.mkdir(parents=True, exist_ok=True)
        rec = dict(
            _eval("d", model, seed, "gaussian", level, 1, acc),
            reliability=BINS,
            weight_img_noised=0.2,
            weight_img_clean=0.4,
            weight_txt_noised=0.3,
            weight_txt_clean=0.5,
        )
        del rec["seed"]
        (d / f"gaussian_{level}_e1.json").write_text(json.dumps(rec))
        paths.append(d / f"gaussian_{level}_e1.json")
    aggregate(paths, tmp_path / "results", SIGNIFICANCE)
    for name in (
        "summary.csv",
        "summary.md",
        "summary.html",
        "summary.tex",
        "table2.tex",
        "metrics.json",
        "significance.csv",
        "significance.md",
        "significance.html",
        "accuracy_vs_noise.png",
        "fusion_weights.png",
        "reliability.png",
    ):
        assert (tmp_path / "results" / name).stat().st_size > 0, name
    # qmf beats latefusion by exactly 10 points on both seeds: a constant difference, t-test undefined
    significance = (tmp_path / "results" / "significance.md").read_text()
    assert "| gaussian ε=10 | qmf − latefusion | +10.00 |" in significance
    assert "cannot give p below 0.5, so it can never be significant" in significance
    assert "<td>60.00 ± 14.14</td>" in (tmp_path / "results" / "summary.html").read_text()
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert metrics["d"]["qmf"]["gaussian_10"]["acc_mean"] == pytest.approx(0.6)
