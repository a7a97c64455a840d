"""Training curves (pdf_core.curves): DVCLive's files, one row per epoch, written by a real training run."""

import dataclasses

import pytest
import yaml

from pdf_core.curves import METRICS, METRICS_SUBFOLDER, read_curves, write_curves

HISTORY = [
    {"epoch": 1, "train/loss": 1.5, "dev/acc": 0.25, "lr": 0.001},
    {"epoch": 2, "train/loss": 0.75, "dev/acc": 0.5, "lr": 0.0005},
]


def test_files_are_one_tsv_per_metric_with_a_row_per_epoch(tmp_path):
    write_curves(tmp_path / "run", HISTORY)
    metrics = tmp_path / "run" / "metrics"
    assert sorted(p.relative_to(metrics).as_posix() for p in metrics.rglob("*.tsv")) == [
        "dev/acc.tsv",
        "lr.tsv",
        "train/loss.tsv",
    ]
    assert (metrics / "train/loss.tsv").read_text() == "step\tloss\n1\t1.5\n2\t0.75\n"
    assert (metrics / "lr.tsv").read_text() == "step\tlr\n1\t0.001\n2\t0.0005\n"
    assert read_curves(tmp_path / "run") == HISTORY
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temp directory left


def test_files_equal_what_dvclive_live_writes(tmp_path, monkeypatch):
    """The same bytes as `Live.log_metric` + `next_step`, run where no Git or DVC repository is around it."""
    from dvclive import Live

    monkeypatch.chdir(tmp_path)  # Live looks for a DVC/Git repository from the working directory
    with Live("live", save_dvc_exp=False, dvcyaml=None) as live:
        live.step = HISTORY[0]["epoch"]
        for row in HISTORY:
            for name, value in row.items():
                if name != "epoch":
                    live.log_metric(name, value)
            live.next_step()
    write_curves(tmp_path / "ours", HISTORY)
    theirs = sorted((tmp_path / "live/plots/metrics").rglob("*.tsv"))
    assert len(theirs) == 3
    for path in theirs:
        name = path.relative_to(tmp_path / "live/plots").as_posix()
        assert (tmp_path / "ours" / name).read_bytes() == path.read_bytes(), name


def test_the_metrics_folder_is_dvclives():
    from dvclive.plots import Metric

    assert METRICS_SUBFOLDER == Metric.subfolder


def test_rewriting_replaces_the_old_curves_whole(tmp_path):
    write_curves(tmp_path / "run", [{"epoch": 1, "train/loss": 1.0, "dev/weight_txt": 0.5}])
    write_curves(tmp_path / "run", HISTORY)
    assert not (tmp_path / "run/metrics/dev/weight_txt.tsv").exists()
    assert read_curves(tmp_path / "run") == HISTORY


def test_unknown_metric_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['dev/accuracy'\].*known: \['train/loss'"):
        write_curves(tmp_path / "run", [{"epoch": 1, "dev/accuracy": 0.5}])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("model, weights", [("qmf", True), ("bow", False)])
def test_training_run_logs_every_epoch(tmp_path, model, weights):
    from pdf_core.config import dataset_config
    from pdf_core.inputs import frozen_inputs
    from pdf_core.settings import run_settings
    from pdf_core.train import train_run
    from tests.test_resume import _make_caches

    _make_caches(tmp_path, n_train=64, n_dev=32)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    hp = dataclasses.replace(run_settings(params, model, "toy"), max_epochs=3, lr_patience=0, lr_factor=0.5)
    frozen = tmp_path / "data/features/toy/frozen"
    metrics = train_run(
        model,
        hp,
        dataset_config(params, "toy"),
        params["features"],
        4,
        1,
        frozen_inputs(frozen / "train.npz"),
        frozen_inputs(frozen / "dev.npz"),
        tmp_path / "run",
        tmp_path / "curves",
    )
    rows = read_curves(tmp_path / "curves")
    expected = set(METRICS) if weights else {"train/loss", "dev/acc", "lr"}
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert all(set(r) == expected | {"epoch"} for r in rows), rows
    assert max(r["dev/acc"] for r in rows) == metrics["best_dev_acc"]
    # ReduceLROnPlateau with patience 0 halves the lr after every epoch without a new best dev accuracy
    lr, best = hp.lr, -1.0
    for row in rows:
        lr = lr if row["dev/acc"] > best else lr * 0.5
        best = max(best, row["dev/acc"])
        assert row["lr"] == pytest.approx(lr)
