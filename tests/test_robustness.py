"""The robustness report (pdf_core.robustness): mean accuracy over severities, corruption error relative to
late fusion and mCE as ImageNet-C defines them, ranks, undefined CE, and the files the aggregate writes."""

import json

import pandas as pd
import pytest

from pdf_core.aggregate import dvc_metrics
from pdf_core.robustness import COLUMNS, level_tick, markdown, robustness_table
from tests.test_aggregate import SIGNIFICANCE, _eval

# (model, family) -> accuracy at ε = 0, 5, 10 (mean over train seeds)
ACCURACY = {
    ("latefusion", "gaussian_blur"): (0.9, 0.8, 0.6),
    ("qmf", "gaussian_blur"): (0.92, 0.85, 0.7),
    ("bow", "gaussian_blur"): (0.8, 0.8, 0.8),
    ("latefusion", "missing_image"): (0.9, 0.7, 0.5),
    ("qmf", "missing_image"): (0.92, 0.6, 0.5),
    ("bow", "missing_image"): (0.8, 0.8, 0.8),
}


def _summary(accuracy=ACCURACY, dataset="d"):
    rows = [
        {"dataset": dataset, "model": model, "noise_type": family, "noise_level": level, "acc_mean": acc}
        for (model, family), values in accuracy.items()
        for level, acc in zip((0, 5, 10), values, strict=True)
    ]
    return pd.DataFrame(rows).assign(acc_std=0.0, n_runs=1)


def test_corruption_error_and_mce_hand_computed():
    table, undefined = robustness_table(_summary())
    assert undefined == {} and list(table.columns) == COLUMNS
    got = table.set_index(["model", "noise_type"])
    # gaussian_blur: late fusion's errors 0.2 + 0.4 = 0.6; qmf's 0.15 + 0.3 = 0.45 -> 0.75; bow's 0.4 -> 0.6667
    # missing_image: late fusion's 0.3 + 0.5 = 0.8; qmf's 0.4 + 0.5 = 0.9 -> 1.125; bow's 0.4 -> 0.5
    assert got.loc[("qmf", "gaussian_blur")].ce == pytest.approx(0.75)
    assert got.loc[("qmf", "missing_image")].ce == pytest.approx(1.125)
    assert got.loc[("bow", "gaussian_blur")].ce == pytest.approx(0.4 / 0.6)
    assert got.loc[("bow", "missing_image")].ce == pytest.approx(0.5)
    assert (got.xs("latefusion").ce == 1.0).all()
    assert got.loc[("qmf", "gaussian_blur")].mce == pytest.approx((0.75 + 1.125) / 2)  # 0.9375
    assert got.loc[("bow", "missing_image")].mce == pytest.approx((0.4 / 0.6 + 0.5) / 2)  # 0.5833
    # mean accuracy over the severities only (ε = 0 left out): qmf blur (0.85 + 0.7) / 2
    assert got.loc[("qmf", "gaussian_blur")].mean_acc == pytest.approx(0.775)
    assert got.loc[("qmf", "gaussian_blur")].levels == "5;10"
    # ranks by mean accuracy: blur bow 0.8 > qmf 0.775 > late fusion 0.7; missing bow 0.8 > lf 0.6 > qmf 0.55
    assert got.xs("gaussian_blur", level="noise_type")["rank"].to_dict() == {"bow": 1, "latefusion": 3, "qmf": 2}
    assert got.xs("missing_image", level="noise_type")["rank"].to_dict() == {"bow": 1, "latefusion": 2, "qmf": 3}
    # rows by model, each method's families in declaration order (missing_image is declared before the blur)
    assert table.noise_type.tolist()[:2] == ["missing_image", "gaussian_blur"]


def test_report_tables_ranking_and_ties():
    accuracy = {**ACCURACY, ("bow", "gaussian_blur"): (0.8, 0.85, 0.7)}  # ties qmf's 0.775 exactly
    text = markdown(*robustness_table(_summary(accuracy)), _summary(accuracy))
    assert "| model | clean | missing_image | gaussian_blur | mCE |" in text
    assert "| qmf | 92.00 | 55.00 (112.5) | 77.50 (75.0) | 93.8 |" in text
    assert "| latefusion | 90.00 | 60.00 (100.0) | 70.00 (100.0) | 100.0 |" in text
    assert "| gaussian_blur | bow = qmf > latefusion |" in text
    assert "| missing_image | bow > latefusion > qmf |" in text
    assert "undefined" not in text


def test_without_late_fusion_ce_is_empty_with_a_note_not_an_error():
    summary = _summary({key: value for key, value in ACCURACY.items() if key[0] != "latefusion"})
    table, undefined = robustness_table(summary)
    assert table.ce.isna().all() and table.mce.isna().all() and table["rank"].notna().all()
    assert undefined == {("d", f): "latefusion is not in the grid" for f in ("gaussian_blur", "missing_image")}
    text = markdown(table, undefined, summary)
    assert "| qmf | 92.00 | 55.00 | 77.50 | – |" in text
    assert "CE of missing_image undefined: latefusion is not in the grid.\nCE of gaussian_blur undefined" in text
    metrics = dvc_metrics(summary, table)
    assert "mce" not in metrics["d"]["qmf"] and metrics["d"]["qmf"]["gaussian_blur_10"]["acc_mean"] == 0.7


def test_ce_undefined_where_late_fusion_makes_no_error_or_lacks_a_severity():
    perfect = {**ACCURACY, ("latefusion", "gaussian_blur"): (1.0, 1.0, 1.0)}
    table, undefined = robustness_table(_summary(perfect))
    assert undefined == {("d", "gaussian_blur"): "latefusion makes no error at these severities"}
    qmf = table[table.model == "qmf"].set_index("noise_type")
    assert pd.isna(qmf.ce["gaussian_blur"]) and qmf.mce["gaussian_blur"] == pytest.approx(1.125)  # over the rest
    summary = _summary()
    summary = summary[~((summary.model == "latefusion") & (summary.noise_level == 10))]
    _, undefined = robustness_table(summary)
    assert undefined[("d", "missing_image")] == "latefusion has no accuracy at ε = 10"


def test_a_grid_without_noise_has_an_empty_report():
    summary = _summary()
    table, undefined = robustness_table(summary[summary.noise_level == 0])
    assert table.empty and list(table.columns) == COLUMNS
    assert "nothing to report" in markdown(table, undefined, summary)


def test_level_ticks_say_what_a_level_means_for_the_family():
    assert level_tick("gaussian", 5) == "5"  # the paper's ε as it is
    assert level_tick("missing_image", 5) == "5\n(50 %)"  # share of samples without their image
    assert level_tick("gaussian_blur", 5) == "5\n(sev. 3)"
    assert level_tick("word_dropout", 10) == "10\n(sev. 5)" and level_tick("word_dropout", 0) == "0"


def test_aggregate_writes_the_report_and_only_adds_mce_to_the_metrics(tmp_path):
    from pdf_core.aggregate import aggregate, load_evaluations, summarize

    paths = []
    for (model, family), values in ACCURACY.items():
        for level, acc in zip((0, 5, 10), values, strict=True):
            path = tmp_path / "runs" / "d" / model / "seed1" / "eval" / f"{family}_{level}_e1.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            rec = _eval("d", model, 1, family, level, 1, acc)
            del rec["seed"]
            path.write_text(json.dumps(rec))
            paths.append(path)
    results = tmp_path / "results"
    aggregate(paths, results, SIGNIFICANCE)
    written = pd.read_csv(results / "robustness.csv")
    assert list(written.columns) == COLUMNS
    qmf_blur = written[(written.model == "qmf") & (written.noise_type == "gaussian_blur")].iloc[0]
    assert (qmf_blur.ce, qmf_blur.mce, qmf_blur["rank"]) == pytest.approx((0.75, 0.9375, 2))
    assert "| qmf | 92.00 | 55.00 (112.5) | 77.50 (75.0) | 93.8 |" in (results / "robustness.md").read_text()
    assert "<td>55.00 (112.5)</td>" in (results / "robustness.html").read_text()
    assert (results / "robustness.png").stat().st_size > 0
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["d"]["qmf"].pop("mce") == pytest.approx(0.9375)
    assert metrics["d"]["latefusion"].pop("mce") == 1.0 and metrics["d"]["bow"].pop("mce") == pytest.approx(0.583333)
    assert metrics == dvc_metrics(summarize(load_evaluations(paths)))  # the existing keys, unchanged
