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


def test_aggregate_writes_four_files(tmp_path):
    paths = []
    for seed, acc in ((1, 0.5), (2, 0.7)):
        d = tmp_path / "runs" / "d" / "qmf" / f"seed{seed}" / "eval"
        d.mkdir(parents=True)
        rec = _eval("d", "qmf", seed, "gaussian", 10, 1, acc)
        del rec["seed"]
        (d / "gaussian_10_e1.json").write_text(json.dumps(rec))
        paths.append(d / "gaussian_10_e1.json")
    aggregate(paths, tmp_path / "results")
    for name in ("summary.csv", "summary.md", "summary.html", "metrics.json", "accuracy_vs_noise.png"):
        assert (tmp_path / "results" / name).stat().st_size > 0
    assert "<td>60.00 ± 14.14</td>" in (tmp_path / "results" / "summary.html").read_text()
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert metrics["d"]["qmf"]["gaussian_10"]["acc_mean"] == pytest.approx(0.6)
