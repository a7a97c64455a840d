"""Selection on dev (pdf_core.tune): the declared grid, the choice, its use by the final runs, and the
proof that the tune stage never reads the test split."""

import json
import logging

import pytest
import yaml

from pdf_core import paths, tune
from pdf_core.config import ParamsError, validate_params
from pdf_core.io_utils import write_json
from pdf_core.settings import run_settings, trial_settings
from tests.conftest import PROJECT_ROOT, snakemake_exe
from tests.test_pipeline import _job_counts, _run, make_repo


def _params(**tune_block) -> dict:
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["tune"].update(tune_block)
    return params


def test_the_embedded_default_tunes_nothing():
    assert _params()["tune"]["models"] == []


def test_trials_are_the_grid_product_keys_sorted_values_in_declared_order():
    params = _params(
        models=["qmf", "bert"],
        grid={"lr": [0.01, 0.001], "dropout": [0.5]},
        model_grids={"qmf": {"rank_weight": [0, 1]}},
    )
    assert tune.trials(params, "qmf") == [
        {"dropout": 0.5, "lr": 0.01, "rank_weight": 0},
        {"dropout": 0.5, "lr": 0.01, "rank_weight": 1},
        {"dropout": 0.5, "lr": 0.001, "rank_weight": 0},
        {"dropout": 0.5, "lr": 0.001, "rank_weight": 1},
    ]
    assert tune.trials(params, "bert") == [{"dropout": 0.5, "lr": 0.01}, {"dropout": 0.5, "lr": 0.001}]
    # a per-method key replaces the shared one for that method only
    params["tune"]["model_grids"]["qmf"] = {"lr": [0.1]}
    assert tune.trials(params, "qmf") == [{"dropout": 0.5, "lr": 0.1}]
    assert trial_settings(params, "bert", "synthetic", 1).lr == 0.001


def _write_trial(dataset, model, trial, seed, acc, epoch=3):
    write_json(tune.trial_files(dataset, model, trial, seed)["dev_metrics"], {"best_dev_acc": acc, "best_epoch": epoch})


def test_select_takes_the_best_mean_dev_accuracy_ties_to_the_earlier_trial(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = _params(models=["bert"], seeds=[1, 2], grid={"lr": [0.1, 0.01, 0.001]})
    # means: trial 0 0.60, trial 1 0.70, trial 2 0.70 (tie with 1: the earlier wins)
    for trial, accs in enumerate([(0.5, 0.7), (0.8, 0.6), (0.7, 0.7)]):
        for seed, acc in zip((1, 2), accs, strict=True):
            _write_trial("d", "bert", trial, seed, acc)
    chosen = tune.select(params, "d", "bert")
    assert chosen["selected_trial"] == 1 and chosen["settings"] == {"lr": 0.01}
    assert chosen["dev_acc_mean"] == pytest.approx(0.7)
    assert [r["dev_acc_mean"] for r in chosen["trials"]] == pytest.approx([0.6, 0.7, 0.7])
    on_disk = json.loads(paths.tune_selected("d", "bert").read_text())
    assert on_disk["settings"] == {"lr": 0.01}


def test_final_runs_use_the_chosen_values(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    params = _params(models=["bert"], seeds=[1], grid={"lr": [0.1, 0.01]})
    with pytest.raises(FileNotFoundError, match="tune_all"):
        run_settings(params, "bert", "synthetic")
    _write_trial("synthetic", "bert", 0, 1, 0.4)
    _write_trial("synthetic", "bert", 1, 1, 0.9)
    tune.select(params, "synthetic", "bert")
    with caplog.at_level(logging.INFO):
        assert run_settings(params, "bert", "synthetic").lr == 0.01
    assert "settings chosen on dev" in caplog.text and "'lr': 0.01" in caplog.text
    assert run_settings(params, "qmf", "synthetic").lr == params["train"]["lr"]  # not tuned: as configured
    # a choice made for another grid is refused, not used
    params["tune"]["grid"]["lr"] = [0.1, 0.05]
    with pytest.raises(ValueError, match="another tune grid"):
        run_settings(params, "bert", "synthetic")


def test_show_config_shows_the_chosen_values_once_selected(tmp_path, monkeypatch):
    from pdf_core.show_config import markdown, resolved_runs

    monkeypatch.chdir(tmp_path)
    params = _params(models=["bert"], seeds=[1], grid={"lr": [0.1, 0.01]})
    configured = params["train"]["lr"]
    assert resolved_runs(params, ["synthetic"], ["bert"])["synthetic"]["bert"]["lr"] == configured
    assert "| `lr` | " + json.dumps(configured) + " | tune (not selected yet) |" in markdown(
        params, ["synthetic"], ["bert"]
    )
    _write_trial("synthetic", "bert", 0, 1, 0.4)
    _write_trial("synthetic", "bert", 1, 1, 0.9)
    tune.select(params, "synthetic", "bert")
    assert resolved_runs(params, ["synthetic"], ["bert", "qmf"])["synthetic"] == {
        "bert": run_settings(params, "bert", "synthetic").as_dict(),
        "qmf": run_settings(params, "qmf", "synthetic").as_dict(),
    }
    assert "| `lr` | 0.01 | tune |" in markdown(params, ["synthetic"], ["bert"])


@pytest.mark.parametrize(
    ("tune_block", "message"),
    [
        ({"modles": ["qmf"]}, "unknown key 'modles' under 'tune'"),
        ({"models": ["qmf", "bert"], "grid": {"rank_weight": [0, 1]}}, "'tune.grid.rank_weight': not a setting bert"),
        ({"models": ["qmf"], "grid": {"mode": ["finetune"]}}, "'tune.grid.mode': not a setting qmf can tune"),
        ({"models": ["qmf"], "grid": {"lr": [0.01, -1]}}, r"'tune.grid.lr\[1\]' \(for qmf\)"),
        ({"models": ["qmf"], "grid": {"lr": []}}, "'tune.grid.lr'"),
        ({"models": ["qmf"], "model_grids": {"bert": {"lr": [0.1]}}}, "'tune.model_grids.bert': 'bert' is not in"),
        ({"models": ["qmf"], "model_grids": {"qmf": {"history_norm": ["max"]}}}, "history_norm"),
    ],
)
def test_bad_tune_blocks_are_refused_naming_the_key(tune_block, message):
    params = _params()
    params["tune"].update(tune_block)
    with pytest.raises(ParamsError, match=message):
        validate_params(params)


TUNE = {"models": ["qmf", "bert"], "seeds": [1, 2], "grid": {"lr": [0.01, 0.001]}, "model_grids": {}}


def _test_split_files(repo) -> list:
    """Every file that holds the test split, as the data stages left it."""
    feats = repo / paths.features_dir("synthetic")
    files = [repo / paths.splits_dir("synthetic") / "test.jsonl", feats / "frozen" / "test.npz"]
    files += sorted((feats / "test").iterdir()) + sorted((feats / "frozen" / "test").iterdir())
    return files


@pytest.mark.slow
def test_tune_stage_never_reads_the_test_split(tmp_path, cli_env):
    """The real Snakemake tune stage, run after every test-split file was overwritten with bytes no loader
    accepts: it still trains every trial and chooses; reading any test file would have failed the job."""
    repo = make_repo(tmp_path, cli_env)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["tune"] = TUNE
    params["grid"]["models"] = ["qmf", "bert"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    smk = [snakemake_exe(), "--cores", "2"]
    _run(smk + ["prepare_all"], repo, cli_env)
    test_files = _test_split_files(repo)
    assert len(test_files) >= 5
    for path in test_files:
        path.write_bytes(b"\x00not the test split\xff")
    out = _run(smk + ["tune_all"], repo, cli_env)
    assert _job_counts(_run(smk + ["tune_all", "-n"], repo, cli_env)) == {}, out[-2000:]
    assert all(p.read_bytes() == b"\x00not the test split\xff" for p in test_files)  # nothing rebuilt them
    for model in ("qmf", "bert"):
        chosen = json.loads((repo / paths.tune_selected("synthetic", model)).read_text())
        assert len(chosen["trials"]) == 2 and all(len(t["dev_acc"]) == 2 for t in chosen["trials"])
        assert chosen["settings"] in ({"lr": 0.01}, {"lr": 0.001})
    # the final runs wait for the choice: tune jobs are upstream of train, and done
    dry = _job_counts(_run(smk + ["evaluate_all", "-n"], repo, cli_env))
    assert "tune_trial" not in dry and dry["train"] == 4, dry
