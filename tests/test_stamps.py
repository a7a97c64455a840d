"""Settings stamps (pdf_core/stamps.py): which stamps a change of setting moves, on the default params.yaml."""

import copy

import pytest

from pdf_core.config import load_params
from pdf_core.stages import STAGES, stage_module
from pdf_core.stamps import Stamps
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def params():
    return load_params(PROJECT_ROOT / "params.yaml")


def _changed(params, edit) -> set[tuple]:
    """(stage, dataset, model) of every stamp whose key an edit of the configuration moves."""
    before = {job: path for path, job in Stamps(params).every().items()}
    edited = copy.deepcopy(params)
    edit(edited)
    after = {job: path for path, job in Stamps(edited).every().items()}
    assert before.keys() == after.keys()
    return {job for job in before if before[job] != after[job]}


def test_one_stamp_per_stage_and_owner(params):
    grid = params["grid"]
    jobs = list(Stamps(params).every().values())
    n_models = len(grid["models"])
    # generate (the synthetic kind), splits, glove, features, encode, encode_noisy; train + evaluate per
    # model; aggregate
    assert len(jobs) == len(grid["datasets"]) * (6 + 2 * n_models) + 1 == 27
    assert ("generate", "synthetic", None) in jobs and not any(stage == "download" for stage, _, _ in jobs)
    assert not any(stage == "tune" for stage, _, _ in jobs)  # no method is tuned on dev in params.yaml


def test_a_model_setting_moves_that_model_and_the_aggregate_only(params):
    changed = _changed(params, lambda p: p["models"]["qmf"].update(lr=0.123))
    assert changed == {("train", "synthetic", "qmf"), ("evaluate", "synthetic", "qmf"), ("aggregate", None, None)}


def test_an_upstream_setting_moves_everything_downstream(params):
    changed = _changed(params, lambda p: p["features"].update(image_policy="skip"))
    assert ("features", "synthetic", None) in changed and ("encode", "synthetic", None) in changed
    assert ("splits", "synthetic", None) not in changed and ("glove", "synthetic", None) not in changed
    assert {("train", "synthetic", m) for m in params["grid"]["models"]} <= changed


def test_the_noise_draws_move_the_noisy_test_features_and_the_evaluations_not_the_training(params):
    changed = _changed(params, lambda p: p["parity"].update(noise="project"))
    evaluations = {("evaluate", "synthetic", m) for m in params["grid"]["models"]}
    assert changed == {("encode_noisy", "synthetic", None), ("aggregate", None, None)} | evaluations


def test_a_new_seed_is_new_files_not_a_changed_setting(params):
    """Which outputs exist is in their paths: adding a seed reruns nothing that exists (but the aggregate,
    whose inputs change)."""
    assert _changed(params, lambda p: p["grid"]["seeds"].append(9)) == {("aggregate", None, None)}


def test_tuning_a_method_gives_it_a_tune_stamp_upstream_of_its_training(params):
    tuned = copy.deepcopy(params)
    tuned["tune"].update(models=["qmf"], grid={"lr": [0.01, 0.001]})
    stamps = Stamps(tuned)
    assert ("tune", "synthetic", "qmf") in stamps.every().values()
    assert ("tune", "synthetic", "qmf") in stamps.upstream("train", "synthetic", "qmf")
    assert ("tune", "synthetic", "latefusion") not in stamps.upstream("train", "synthetic", "latefusion")


def test_stamp_content_is_what_the_stage_reads(params):
    stamps = Stamps(params)
    content = stamps.content("train", "synthetic", "qmf")
    assert content["reads"] == stage_module("train").reads(params, "synthetic", "qmf")
    assert "pdf_core/models/qmf.py" in content["code"] and "pdf_core/models/tmc.py" not in content["code"]
    assert set(content["upstream"]) == {"encode/synthetic"}
    path = stamps.path("train", "synthetic", "qmf")
    assert path.startswith("runs/.settings/synthetic.qmf.train.") and path.endswith(".json")


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_declares_what_the_stamps_need(stage):
    module = stage_module(stage)
    assert module.SCOPE in ("dataset", "model", "grid") and isinstance(module.STAMP_DIR, str)
    assert set(module.UPSTREAM) <= set(STAGES) | {"raw_data"}
    for name in ("reads", "outputs", "add_arguments", "run"):
        assert callable(getattr(module, name)), (stage, name)
