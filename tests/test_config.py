"""params.yaml validation: each mistake gives one clear error naming the key."""
import copy
import subprocess

import pytest
import yaml

from pdf_core.config import ParamsError, load_params, model_hparams, validate_params
from tests.conftest import PROJECT_ROOT, snakemake_exe


@pytest.fixture
def params():
    return load_params(PROJECT_ROOT / "params.yaml")


@pytest.mark.reliability
@pytest.mark.parametrize("mutate, expected", [
    (lambda p: p["grid"].__setitem__("sedes", [1]), "unknown key 'sedes' under 'grid'"),
    (lambda p: p["grid"]["models"].append("qmff"), "'grid.models[10]': 'qmff' is not one of"),
    (lambda p: p["grid"]["noise_levels"].append(-5), "'grid.noise_levels[3]': -5 is less than the minimum of 0"),
    (lambda p: p["grid"].__setitem__("seeds", []), "'grid.seeds': [] should be non-empty"),
    (lambda p: p["train"].__setitem__("lr", "fast"), "'train.lr': 'fast' is not of type 'number'"),
    (lambda p: p["models"]["qmf"].__setitem__("rank_wieght", 1), "unknown key 'rank_wieght' under 'models.qmf'"),
    (lambda p: p["noise"].__setitem__("mode", "faithful"), "'noise.mode': 'faithful' is not one of"),
    (lambda p: p["grid"]["datasets"].append("food"), "dataset 'food' has no block under 'datasets'"),
    (lambda p: p["datasets"]["synthetic"].__setitem__("text_encoder", "bert"),
     "'datasets.synthetic.text_encoder': 'bert' is not defined under 'encoders.text'"),
])
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
    proc = subprocess.run([snakemake_exe(), "-s", str(PROJECT_ROOT / "Snakefile"), "-n"], cwd=tmp_path,
                          capture_output=True, text=True, env=cli_env)
    assert proc.returncode != 0
    assert "'grid.models[1]': 'qmff' is not one of" in proc.stdout + proc.stderr
    assert not (tmp_path / "data").exists()
