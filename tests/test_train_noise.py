"""Train-time corruption (train.noise): the per-epoch draw, the rows a batch takes from each version,
determinism, off = the clean path, finetune rows = the frozen path's input, config errors, the preset."""

import argparse
import copy

import numpy as np
import pytest
import torch
import yaml

from pdf_core.config import ParamsError, dataset_config, validate_params
from pdf_core.inputs import CorruptedRows, NoisyTrainInputs, SplitInputs, epoch_sources, finetune_inputs
from pdf_core.noise import NoiseCondition
from pdf_core.train_noise import TRAIN_NOISE_KEY, TRAIN_NOISE_PARITY, train_conditions
from tests.conftest import PROJECT_ROOT, settings, snakemake_exe
from tests.test_presets import _job_counts, _run, _workflow_copy

CPU = torch.device("cpu")


def _params():
    return yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))


def test_epoch_sources_hand_computed():
    # default_rng([1, 2, TRAIN_NOISE_STREAM=5]): uniforms 0.4928 0.6879 0.3246 0.5356 0.3870 0.1031 0.8986 0.6213,
    # then versions 0 2 0 2 0 1 1 2. Below 0.5: samples 0, 2, 4, 5, which take their drawn version.
    assert epoch_sources(1, 2, 8, 0.5, 3).tolist() == [0, -1, 0, -1, 0, 1, -1, -1]
    # the same uniforms at probability 0.35: samples 2 (0.3246) and 5 (0.1031) only
    assert epoch_sources(1, 2, 8, 0.35, 3).tolist() == [-1, -1, 0, -1, -1, 1, -1, -1]
    assert epoch_sources(1, 2, 8, 0.0, 3).tolist() == [-1] * 8
    assert epoch_sources(1, 2, 8, 1.0, 3).tolist() == [0, 2, 0, 2, 0, 1, 1, 2]
    # another epoch or seed is another draw; the same (seed, epoch) the same one
    assert epoch_sources(1, 3, 8, 0.5, 3).tolist() != epoch_sources(1, 2, 8, 0.5, 3).tolist()
    assert epoch_sources(2, 2, 8, 0.5, 3).tolist() != epoch_sources(1, 2, 8, 0.5, 3).tolist()
    assert np.array_equal(epoch_sources(1, 2, 8, 0.5, 3), epoch_sources(1, 2, 8, 0.5, 3))


def _split(offset: float, n=8) -> SplitInputs:
    """Row i's features are offset + i, so a batch row says which version and sample it came from."""
    values = offset + np.arange(n, dtype=np.float32)
    arrays = {"txt": np.repeat(values[:, None], 2, 1), "img": np.repeat(values[:, None, None], 3, 1)}
    return SplitInputs(arrays, np.arange(n) % 3)


def _noisy(probability=0.5) -> NoisyTrainInputs:
    versions = [(f"v{k}", _split(100.0 * (k + 1))) for k in range(3)]
    return NoisyTrainInputs(_split(0.0), versions, probability)


@pytest.mark.parametrize("on_device", [False, True])
def test_batch_rows_come_from_the_drawn_version(on_device):
    inputs = _noisy()
    inputs = inputs.to_device(CPU) if on_device else inputs
    # epoch 2, seed 1: sources [0, -1, 0, -1, 0, 1, -1, -1] (test above); versions k add 100 * (k + 1)
    batch = inputs.for_epoch(1, 2).batch(np.array([5, 1, 0, 7, 4]), CPU)
    assert batch["txt"][:, 0].tolist() == [205.0, 1.0, 100.0, 7.0, 104.0]
    assert batch["img"][:, 2, 0].tolist() == [205.0, 1.0, 100.0, 7.0, 104.0]
    assert batch["index"].tolist() == [5, 1, 0, 7, 4] and batch["labels"].tolist() == [2, 1, 0, 1, 1]
    assert inputs.clean.arrays["txt"][5, 0] == 5.0  # the clean split itself is left as it was


def test_same_seed_same_batches_and_probability_zero_is_the_clean_split():
    idx = np.array([3, 6, 1, 0])
    first, again = (_noisy().for_epoch(4, 7).batch(idx, CPU) for _ in range(2))
    assert all(torch.equal(first[k], again[k]) for k in first)
    clean, off = _split(0.0).batch(idx, CPU), _noisy(0.0).for_epoch(4, 7).batch(idx, CPU)
    assert off.keys() == clean.keys() and all(torch.equal(off[k], clean[k]) for k in clean)


def test_a_version_of_other_rows_is_refused():
    with pytest.raises(ValueError, match="v0: 6 rows whose labels differ from the 8 of the clean train split"):
        NoisyTrainInputs(_split(0.0), [("v0", _split(1.0, n=6))], 0.5)


def _toy(tmp_path):
    from tests.test_resume import _make_caches

    _make_caches(tmp_path, n_train=96, n_dev=48)
    from pdf_core.inputs import frozen_inputs

    frozen = tmp_path / "data/features/toy/frozen"
    return frozen_inputs(frozen / "train.npz"), frozen_inputs(frozen / "dev.npz")


def _train(tmp_path, name, train_inputs, dev_inputs):
    from pdf_core.train import train_run

    hp = settings("qmf", max_epochs=3, patience=None, micro_batch=16, grad_accum=1)
    run_dir = tmp_path / name
    metrics = train_run("qmf", hp, {}, {}, 4, 1, train_inputs, dev_inputs, run_dir, tmp_path / f"{name}-curves")
    state = torch.load(run_dir / "model.pt", weights_only=True)["model"]
    return metrics, state


def test_training_through_the_noisy_path_at_probability_zero_is_the_clean_run(tmp_path):
    """Off is the clean run, bit for bit; a corrupted version at probability 1 changes it."""
    train, dev = _toy(tmp_path)
    garbled = SplitInputs({k: v[::-1].copy() for k, v in train.arrays.items()}, train.labels)
    clean_metrics, clean_state = _train(tmp_path, "clean", train, dev)
    off_metrics, off_state = _train(tmp_path, "off", NoisyTrainInputs(train, [("garbled", garbled)], 0.0), dev)
    assert off_metrics == clean_metrics
    assert all(torch.equal(off_state[k], clean_state[k]) for k in clean_state)
    _, on_state = _train(tmp_path, "on", NoisyTrainInputs(train, [("garbled", garbled)], 1.0), dev)
    assert not all(torch.equal(on_state[k], clean_state[k]) for k in clean_state)


def test_finetune_rows_are_the_frozen_paths_input(tmp_path):
    """Rows corrupted when a batch asks are what the whole-split noiser (the encode stage's input) gives."""
    from pdf_core.data.glove import extract_glove
    from pdf_core.data.splits import SPLITS, build_splits
    from pdf_core.data.synthetic import generate
    from pdf_core.features.store import build_features

    ds = dataset_config(_params(), "synthetic")
    raw, splits, glove, feats = (tmp_path / d for d in ("raw", "splits", "glove", "feats"))
    generate(raw, seed=0, n_samples=40, n_classes=3, image_size=32)
    build_splits("synthetic", raw, splits, {"seed": 0})
    extract_glove([splits / f"{s}.jsonl" for s in SPLITS], ds["glove_spec"]["source"], True, glove, False)
    build_features(splits, raw, feats, ds["text_encoder_spec"], 32, "error")
    idx = np.array([9, 0, 4, 3, 17])
    for noise_type, keys in (("gaussian", {"images", "input_ids", "attention_mask", "bow"}), ("jpeg", {"images"})):
        cond = NoiseCondition(noise_type, 10, TRAIN_NOISE_KEY, TRAIN_NOISE_PARITY)
        whole = finetune_inputs(feats, "train", ds, glove, cond)
        rows = CorruptedRows(feats, ds, glove, cond).batch(idx, CPU)
        assert rows.keys() == keys, noise_type
        for key in keys:
            assert np.array_equal(rows[key].numpy(), whole.arrays[key][idx]), (noise_type, key)
        assert whole.image_noised[idx].any() and not whole.image_noised[idx].all()  # some rows stay clean


def _project_noise(params):
    params["parity"]["noise"] = "project"
    return params


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["train"]["noise"].update(types=["fog"]), r"'train\.noise\.types\[0\]': 'fog' is not one of"),
        (lambda p: p["train"]["noise"].update(levels=[0]), r"'train\.noise\.levels\[0\]': 0 is less than or equal"),
        (lambda p: p["train"]["noise"].update(probability=1.5), r"'train\.noise\.probability': 1\.5 is greater"),
        (lambda p: p["train"]["noise"].pop("levels"), r"missing key under 'train\.noise': 'levels'"),
        (lambda p: p["train"]["noise"].update(sigma=1), r"unknown key 'sigma' under 'train\.noise'"),
        (
            lambda p: _project_noise(p)["train"]["noise"].update(probability=0.5, types=["jpeg"]),
            r"'train\.noise': probability 0\.5 needs levels to draw from",
        ),
        (
            lambda p: p["models"]["qmf"].update(noise={"types": ["gaussian"], "levels": [5], "probability": 0.5}),
            r"'models\.qmf\.noise': train-time corruption needs parity\.noise project",
        ),
        (
            lambda p: p["datasets"]["synthetic"].update(
                models={"qmf": {"noise": {"types": ["gaussian"], "levels": [5], "probability": 0.5}}}
            ),
            r"'datasets\.synthetic\.models\.qmf\.noise': train-time corruption needs parity\.noise project",
        ),
        (
            lambda p: p["tune"].update(models=["qmf"], grid={"noise": [{"types": [], "levels": [], "probability": 0}]}),
            r"'tune\.grid\.noise': not a setting qmf can tune",
        ),
    ],
)
def test_config_errors_name_the_key(edit, message):
    params = _params()
    edit(params)
    with pytest.raises(ParamsError, match=message):
        validate_params(params)


def test_encode_stage_refuses_what_validation_refuses():
    from pdf_core.stages import encode

    params = validate_params(_params())  # parity.noise original
    for level, message in ((5.0, "needs parity.noise project"), (0.0, "the level must be > 0")):
        args = argparse.Namespace(dataset="synthetic", noise_type=None, train_noise="gaussian", level=level)
        with pytest.raises(ValueError, match=message):
            encode.run(params, args)
    with pytest.raises(ValueError, match="go together"):
        encode.run(params, argparse.Namespace(dataset="synthetic", noise_type=None, train_noise="jpeg", level=None))


def test_preset_twin_is_the_default_dataset_and_only_its_runs_train_noisy():
    from pdf_core.config import load_params
    from pdf_core.settings import model_hparams

    preset = load_params(PROJECT_ROOT / "params.yaml", (PROJECT_ROOT / "configs/train_noise.yaml",))
    twin = copy.deepcopy(preset["datasets"]["synthetic_noisytrain"])
    assert twin.pop("raw_dir") != preset["datasets"]["synthetic"]["raw_dir"]
    twin.pop("models")
    assert twin == {k: v for k, v in preset["datasets"]["synthetic"].items() if k != "raw_dir"}
    for model in preset["grid"]["models"]:
        assert train_conditions(model_hparams(preset, model, "synthetic")["noise"]) == []
        noisy = train_conditions(model_hparams(preset, model, "synthetic_noisytrain")["noise"])
        assert noisy == [("gaussian", 5), ("gaussian", 10), ("salt_pepper", 5), ("salt_pepper", 10)]


def test_preset_dry_run_encodes_the_train_versions_once_and_the_default_none(tmp_path, cli_env):
    root = _workflow_copy(tmp_path)
    counts = _job_counts(_run([snakemake_exe(), "-n", "--configfile", "configs/train_noise.yaml"], root, cli_env))
    assert counts["encode_train_noisy"] == 4, counts  # (type, level) of the twin, shared by its two models
    assert counts["train"] == 2 * 2 * 3 and counts["evaluate"] == 2 * 2, counts  # datasets x models (x seeds)
    assert "encode_train_noisy" not in _job_counts(_run([snakemake_exe(), "-n"], root, cli_env))
