"""The end-to-end (finetune) path on CPU: trainable MiniLM + EfficientNet-Lite0 on the uint8 store."""

import dataclasses
import json

import pytest
import yaml

from pdf_core.config import dataset_config
from pdf_core.data.glove import extract_glove
from pdf_core.data.splits import SPLITS, build_splits
from pdf_core.data.synthetic import generate
from pdf_core.evaluate import evaluate_runs
from pdf_core.features.store import build_features
from pdf_core.inputs import finetune_inputs
from pdf_core.noise import NoiseCondition
from pdf_core.settings import run_settings
from pdf_core.train import train_run
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model, parity", [("qmf", "project"), ("mmbt", "project"), ("mmbt", "original")])
def test_finetune_trains_and_evaluates_under_noise(tmp_path, model, parity):
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["parity"] = dict.fromkeys(params["parity"], parity)
    params["train"].update(mode="finetune", max_epochs=1, micro_batch=8, grad_accum=1)
    params["features"].update(image_size=64, crop_size=56)
    ds = dataset_config(params, "synthetic")
    hp = run_settings(params, model, "synthetic")
    hp = dataclasses.replace(hp, mode="finetune", max_epochs=1, micro_batch=8, grad_accum=1)
    raw, splits, glove, feats = (tmp_path / d for d in ("raw", "splits", "glove", "feats"))
    generate(raw, seed=0, n_samples=24, n_classes=3, image_size=64)
    build_splits("synthetic", raw, splits, {"seed": 0})
    mask_token = ds["glove_spec"]["bag_of_words"] == "original"
    extract_glove([splits / f"{s}.jsonl" for s in SPLITS], ds["glove_spec"]["source"], True, glove, mask_token)
    build_features(splits, raw, feats, ds["text_encoder_spec"], 64, "error")
    train_inputs = finetune_inputs(feats, "train", ds, glove)
    no_sep = parity == "original"  # [CLS] + wordpieces, no [SEP] (102)
    assert (train_inputs.arrays["input_ids"] == 102).any() != no_sep
    metrics = train_run(
        model,
        hp,
        ds,
        params["features"],
        3,
        1,
        train_inputs,
        finetune_inputs(feats, "dev", ds, glove),
        tmp_path / "run",
        tmp_path / "curves",
    )
    assert metrics["epochs_run"] == 1
    cond = NoiseCondition("gaussian", 10, 1, "original")
    written = evaluate_runs(
        [tmp_path / "run" / "model.pt"],
        hp,
        ds,
        params["features"],
        train_inputs,
        [(cond, lambda: finetune_inputs(feats, "test", ds, glove, cond))],
    )
    result = json.loads(written[0].read_text())
    assert 0.0 <= result["accuracy"] <= 1.0 and result["frac_image_noised"] > 0
    # level 10 masks every word of a flagged text: masked = flagged
    assert result["text_masked_fraction"] == result["frac_text_noised"] > 0
