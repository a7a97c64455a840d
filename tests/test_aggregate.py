"""Aggregation: per-seed mean over eval seeds, then mean ± std over train seeds."""

import json

import pandas as pd
import pytest

from pdf_core.aggregate import aggregate, load_evaluations, markdown_table, summarize


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
        "weight_auroc.png",
        "robustness.csv",
        "robustness.md",
        "robustness.html",
        "robustness.png",
    ):
        assert (tmp_path / "results" / name).stat().st_size > 0, name
    # qmf beats latefusion by exactly 10 points on both seeds: a constant difference, t-test undefined
    significance = (tmp_path / "results" / "significance.md").read_text()
    assert "| gaussian ε=10 | qmf − latefusion | +10.00 |" in significance
    assert "cannot give p below 0.5, so it can never be significant" in significance
    assert "<td>60.00 ± 14.14</td>" in (tmp_path / "results" / "summary.html").read_text()
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert metrics["d"]["qmf"]["gaussian_10"]["acc_mean"] == pytest.approx(0.6)


def _diagnostic(auroc_img, auroc_txt, rho_img=None, rho_txt=None):
    return {
        "img": {"n_noised": 1, "auroc_lower_weight_noised": auroc_img, "spearman_weight_head_ce": rho_img},
        "txt": {"n_noised": 1, "auroc_lower_weight_noised": auroc_txt, "spearman_weight_head_ce": rho_txt},
    }


# (model, train seed, level, eval seed, accuracy, weight diagnostic)
DIAGNOSTIC_RUNS = [
    ("qmf", 1, 5, 1, 0.6, _diagnostic(0.9, None, -0.2, 0.1)),
    ("qmf", 1, 5, 2, 0.8, _diagnostic(0.7, None, -0.4, 0.3)),  # seed 1 -> img AUROC 0.8, rho -0.3, 0.2
    ("qmf", 2, 5, 1, 0.9, _diagnostic(0.6, None, -0.1, 0.2)),
    ("qmf", 2, 5, 2, 0.9, _diagnostic(None, None, -0.1, 0.2)),  # an eval seed noising no image: left out -> 0.6
    ("qmf", 1, 0, 1, 0.7, _diagnostic(None, None, -0.5, 0.5)),
    ("qmf", 2, 0, 1, 0.9, _diagnostic(None, None, -0.3, 0.3)),
    *[("latefusion", seed, 5, e, 0.5, _diagnostic(0.5, 0.5)) for seed in (1, 2) for e in (1, 2)],
    *[("latefusion", seed, 0, 1, 0.6, _diagnostic(None, None)) for seed in (1, 2)],
    *[("bow", seed, level, 1, 0.4, None) for seed in (1, 2) for level in (0, 5)],
]


def _write_runs(root, runs, with_diagnostic=True):
    paths = []
    for model, seed, level, eval_seed, acc, diagnostic in runs:
        rec = dict(_eval("d", model, seed, "gaussian", level, eval_seed, acc), reliability=BINS)
        del rec["seed"]
        if diagnostic is not None and with_diagnostic:
            rec["weight_diagnostic"] = diagnostic
        path = root / "runs" / "d" / model / f"seed{seed}" / "eval" / f"gaussian_{level}_e{eval_seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))
        paths.append(path)
    return paths


def test_weight_diagnostic_mean_and_std_over_train_seeds(tmp_path):
    summary = summarize(load_evaluations(_write_runs(tmp_path, DIAGNOSTIC_RUNS))).set_index(["model", "noise_level"])
    qmf = summary.loc[("qmf", 5)]
    # img AUROC: seeds 0.8 and 0.6 -> mean 0.7, sample std 0.141421; text: no value anywhere -> empty
    assert (qmf.weight_auroc_img_mean, qmf.weight_auroc_img_std) == pytest.approx((0.7, 0.1414213562))
    assert pd.isna(qmf.weight_auroc_txt_mean) and pd.isna(qmf.weight_auroc_txt_std)
    # Spearman: img seeds -0.3 and -0.1 -> -0.2 ± 0.141421; txt seeds 0.2, 0.2 -> 0.2 ± 0
    assert (qmf.weight_spearman_ce_img_mean, qmf.weight_spearman_ce_img_std) == pytest.approx((-0.2, 0.1414213562))
    assert (qmf.weight_spearman_ce_txt_mean, qmf.weight_spearman_ce_txt_std) == pytest.approx((0.2, 0.0))
    clean = summary.loc[("qmf", 0)]
    assert pd.isna(clean.weight_auroc_img_mean) and clean.weight_spearman_ce_txt_mean == pytest.approx(0.4)
    late = summary.loc[("latefusion", 5)]  # the floor: 0.5 on every seed
    assert (late.weight_auroc_img_mean, late.weight_auroc_img_std, late.weight_auroc_txt_mean) == (0.5, 0.0, 0.5)
    assert pd.isna(late.weight_spearman_ce_img_mean)
    assert pd.isna(summary.loc[("bow", 5)].weight_auroc_img_mean)


def test_weight_diagnostic_adds_columns_and_changes_nothing_else(tmp_path):
    aggregate(_write_runs(tmp_path / "with", DIAGNOSTIC_RUNS), tmp_path / "with" / "results", SIGNIFICANCE)
    aggregate(_write_runs(tmp_path / "without", DIAGNOSTIC_RUNS, False), tmp_path / "without" / "results", SIGNIFICANCE)
    with_csv = pd.read_csv(tmp_path / "with" / "results" / "summary.csv", dtype=str, keep_default_na=False)
    without_csv = pd.read_csv(tmp_path / "without" / "results" / "summary.csv", dtype=str, keep_default_na=False)
    added = [c for c in with_csv.columns if c not in without_csv.columns]
    assert list(with_csv.columns) == list(without_csv.columns) + added  # appended, in this order
    assert added == [
        f"weight_{s}_{m}_{x}" for s in ("auroc", "spearman_ce") for m in ("txt", "img") for x in ("mean", "std")
    ]
    assert with_csv[list(without_csv.columns)].equals(without_csv)  # the existing cells, as written
    for name in ("metrics.json", "summary.md", "summary.tex", "heads.md", "significance.csv"):
        assert (tmp_path / "with" / "results" / name).read_bytes() == (
            tmp_path / "without" / "results" / name
        ).read_bytes()
    assert (tmp_path / "with" / "results" / "weight_auroc.png").stat().st_size > 0
    assert (tmp_path / "without" / "results" / "weight_auroc.png").stat().st_size > 0  # no diagnostic: an empty chart


def test_a_single_seed_has_zero_diagnostic_std(tmp_path):
    [row] = summarize(load_evaluations(_write_runs(tmp_path, DIAGNOSTIC_RUNS[:1]))).itertuples()
    assert (row.weight_auroc_img_mean, row.weight_auroc_img_std) == (0.9, 0.0)


def test_malformed_weight_diagnostic_names_the_file(tmp_path):
    [path] = _write_runs(tmp_path, [("qmf", 1, 5, 1, 0.6, {"img": {"n_noised": 1}})])
    with pytest.raises(ValueError, match=r"gaussian_5_e1.json: weight_diagnostic.img lacks auroc_lower_weight_noised"):
        load_evaluations([path])
