"""params.yaml validation: each mistake gives one clear error naming the key."""

import copy
import os
import stat
import subprocess
import sys

import pytest
import yaml

from pdf_core.config import (
    ParamsError,
    dataset_config,
    load_params,
    load_schema,
    typed_overrides,
    validate_params,
    write_resolved,
)
from pdf_core.parity import PARITY_CHOICES, PARITY_SWITCHES, RUN_PARITY_KEYS
from pdf_core.settings import model_hparams
from tests.conftest import PROJECT_ROOT, snakemake_exe


@pytest.fixture
def params():
    return load_params(PROJECT_ROOT / "params.yaml")


@pytest.mark.reliability
@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda p: p["grid"].__setitem__("sedes", [1]), "unknown key 'sedes' under 'grid'"),
        (lambda p: p["grid"]["models"].append("qmff"), "'grid.models[10]': 'qmff' is not one of"),
        (lambda p: p["grid"]["noise_levels"].append(-5), "'grid.noise_levels[3]': -5 is less than the minimum of 0"),
        (lambda p: p["grid"].__setitem__("seeds", []), "'grid.seeds': [] should be non-empty"),
        (lambda p: p["train"].__setitem__("lr", "fast"), "'train.lr': 'fast' is not of type 'number'"),
        (lambda p: p["models"]["qmf"].__setitem__("rank_wieght", 1), "unknown key 'rank_wieght' under 'models.qmf'"),
        (lambda p: p["parity"].__setitem__("noise", "faithful"), "'parity.noise': 'faithful' is not one of"),
        (lambda p: p.__setitem__("noise", {"mode": "paper"}), "unknown key 'noise'"),
        (lambda p: p["parity"].__setitem__("heads", "bare"), "'parity.heads': 'bare' is not one of"),
        (lambda p: p["parity"].__setitem__("mmbt_layout", "original"), "unknown key 'mmbt_layout' under 'parity'"),
        (lambda p: p["grid"]["datasets"].append("food"), "dataset 'food' has no block under 'datasets'"),
        (
            lambda p: p["datasets"]["synthetic"].__setitem__("text_encoder", "bert"),
            "'datasets.synthetic.text_encoder': 'bert' is not defined under 'encoders.text'",
        ),
    ],
)
def test_invalid_params_name_the_key(params, mutate, expected):
    bad = copy.deepcopy(params)
    mutate(bad)
    with pytest.raises(ParamsError) as err:
        validate_params(bad)
    assert expected in str(err.value)
    assert str(err.value).count("\n") == 0  # one line


def test_default_params_are_valid(params):
    assert params["grid"]["datasets"] == ["synthetic"]


def test_model_hparams_overlay_train_defaults(params):
    params["models"]["qmf"]["lr"] = 0.5
    hp = model_hparams(params, "qmf")
    assert hp["lr"] == 0.5 and hp["rank_weight"] == params["models"]["qmf"]["rank_weight"]
    assert model_hparams(params, "latefusion")["lr"] == params["train"]["lr"]


@pytest.mark.reliability
def test_snakemake_refuses_bad_params_before_any_job(tmp_path, params, cli_env):
    bad = copy.deepcopy(params)
    bad["grid"]["models"] = ["latefusion", "qmff"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad))
    proc = subprocess.run(
        [snakemake_exe(), "-s", str(PROJECT_ROOT / "Snakefile"), "-n"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=cli_env,
    )
    assert proc.returncode != 0
    assert "'grid.models[1]': 'qmff' is not one of" in proc.stdout + proc.stderr
    assert not (tmp_path / "data").exists()


def test_config_overrides_get_their_yaml_types_back():
    # what Snakemake hands over for --config 'models={qmf: {lr: 0.01, hidden: [8]}}' grid=...
    raw = {
        "models": {
            "qmf": {"lr": "0.01", "compile": "true", "history_norm": "observed"},
            "concatbert": {"hidden": ["8"]},
        },
        "train": {"patience": "null"},
    }
    assert typed_overrides(raw) == {
        "models": {"qmf": {"lr": 0.01, "compile": True, "history_norm": "observed"}, "concatbert": {"hidden": [8]}},
        "train": {"patience": None},
    }


def test_model_keys_are_checked_per_model(params):
    bad = copy.deepcopy(params)
    bad["models"]["bow"]["rank_weight"] = 2
    with pytest.raises(ParamsError, match="unknown key 'rank_weight' under 'models.bow'"):
        validate_params(bad)
    assert "rank_weight" in model_hparams(params, "qmf") and "rank_weight" not in model_hparams(params, "bow")
    # per-dataset overrides take the same keys, checked the same way
    bad = copy.deepcopy(params)
    bad["datasets"]["synthetic"]["models"] = {"pdf": {"lr": 0.01, "rank_weight": 2}}
    with pytest.raises(ParamsError, match="unknown key 'rank_weight' under 'datasets.synthetic.models.pdf'"):
        validate_params(bad)
    bad["datasets"]["synthetic"]["models"] = {"qmff": {}}
    with pytest.raises(ParamsError, match="unknown key 'qmff' under 'datasets.synthetic.models'"):
        validate_params(bad)


def test_schema_lists_equal_the_registries():
    from pdf_core.data.splits import DATASET_KINDS
    from pdf_core.noise import NOISE_TYPES

    defs = load_schema()["$defs"]
    assert defs["noiseType"]["enum"] == list(NOISE_TYPES)
    assert defs["datasetKind"]["enum"] == list(DATASET_KINDS)
    assert defs["parityChoice"]["enum"] == list(PARITY_CHOICES)
    parity = load_schema()["properties"]["parity"]
    assert set(RUN_PARITY_KEYS) <= set(parity["required"]) == set(parity["properties"]) == set(PARITY_SWITCHES)


def test_parity_switches_that_change_features_travel_in_the_encoder_specs(params):
    """The features, encode and glove rules hash these specs into their settings stamps (workflow/rules/common.smk)."""
    ds = dataset_config(params, "synthetic")
    assert ds["text_encoder_spec"]["token_layout"] == ds["glove_spec"]["bag_of_words"] == "project"
    params["parity"].update(token_layout="original", bag_of_words="original")
    ds = dataset_config(params, "synthetic")
    assert ds["text_encoder_spec"]["token_layout"] == ds["glove_spec"]["bag_of_words"] == "original"


def test_resolved_params_file_is_content_addressed(tmp_path, params):
    first = write_resolved(params, tmp_path)
    mtime = first.stat().st_mtime_ns
    assert write_resolved(copy.deepcopy(params), tmp_path) == first and first.stat().st_mtime_ns == mtime
    assert load_params(first) == params
    changed = copy.deepcopy(params)
    changed["models"]["qmf"]["lr"] = 0.5
    assert write_resolved(changed, tmp_path) != first


def test_written_files_follow_the_umask(tmp_path):
    # a real process with umask 022, as on a shared cluster: results readable by colleagues
    code = "from pdf_core.io_utils import write_json; write_json('r.json', {'a': 1})"
    subprocess.run(
        ["bash", "-c", f'umask 022 && {sys.executable} -c "{code}"'],
        cwd=tmp_path,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
    )
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644
