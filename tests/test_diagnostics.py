"""Diagnostics beside the fused accuracy: each head of a fusion model alone, and the fit of the selected epoch."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pdf_core.aggregate import heads_markdown, summarize
from pdf_core.config import dataset_config
from pdf_core.evaluate import condition_metrics, evaluate_runs
from pdf_core.inputs import SplitInputs
from pdf_core.models import build_model
from pdf_core.models.base import InputDims
from pdf_core.noise import NoiseCondition
from pdf_core.run_model import RunModel
from pdf_core.train import predict, save_checkpoint
from tests.conftest import PROJECT_ROOT, settings

DIMS = InputDims(txt=2, img_regions=1, img=2, bow=1)
# four samples, two classes: the text head (identity weights) reads feature k as class k's logit,
# the image head the same from the image feature
TXT = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [1.0, 2.0]], np.float32)  # argmax 0, 1, 0, 1
IMG = np.array([[[0.0, 5.0]], [[4.0, 0.0]], [[1.0, 0.0]], [[0.0, 1.0]]], np.float32)  # argmax 1, 0, 0, 1
LABELS = np.array([0, 1, 1, 1])  # text head right on 0, 1, 3 (3/4); image head on 3 only (1/4)


def _inputs() -> SplitInputs:
    return SplitInputs({"txt": TXT, "img": IMG, "bow": np.zeros((4, 1), np.float32)}, LABELS)


def _identity_heads(model_name: str) -> RunModel:
    model = build_model(model_name, DIMS, 2, settings(model_name, dropout=0.0), n_train=4)
    with torch.no_grad():
        for head in (model.txt_head[-1], model.img_head[-1]):
            head.weight.copy_(torch.eye(2))
            head.bias.zero_()
    return RunModel(model)


@pytest.mark.parametrize("model_name", ["latefusion", "tmc", "qmf", "pdf"])
def test_head_accuracies_are_the_argmax_of_each_modality_alone(model_name):
    pred = predict(_identity_heads(model_name), _inputs(), torch.device("cpu"))
    result = condition_metrics(pred, _inputs(), 2)
    assert result["accuracy_txt_head"] == pytest.approx(0.75)
    assert result["accuracy_img_head"] == pytest.approx(0.25)


def test_latefusion_fused_accuracy_differs_from_its_heads():
    # fused = mean of the logits: [1, 2.5], [2, 0.5], [2, 0.5], [0.5, 1.5] -> 1, 0, 0, 1: right on 3 only
    result = condition_metrics(predict(_identity_heads("latefusion"), _inputs(), torch.device("cpu")), _inputs(), 2)
    assert result["accuracy"] == pytest.approx(0.25)


def test_unimodal_models_report_no_heads():
    model = RunModel(build_model("bert", DIMS, 2, settings("bert"), n_train=4))
    result = condition_metrics(predict(model, _inputs(), torch.device("cpu")), _inputs(), 2)
    assert "accuracy_txt_head" not in result and "accuracy_img_head" not in result


def test_evaluation_json_holds_train_accuracy_and_selected_epoch(tmp_path):
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    hp = settings("latefusion", dropout=0.0)
    model = _identity_heads("latefusion")
    save_checkpoint(
        tmp_path / "model.pt",
        {
            "fingerprint": "x",
            "model": model.state_dict(),
            "model_name": "latefusion",
            "hp": hp.as_dict(),
            "n_classes": 2,
            "n_train": 4,
            "epoch": 7,
        },
    )
    # the "training set" is the four samples above, relabelled so the fused model gets 2 of 4 right
    train = SplitInputs(_inputs().arrays, np.array([1, 0, 1, 0]))
    cond = NoiseCondition("gaussian", 0, 1, "original")
    ds = dataset_config(params, "synthetic")
    written = evaluate_runs([tmp_path / "model.pt"], hp, ds, params["features"], train, [(cond, _inputs())])
    result = json.loads(written[0].read_text())
    assert result["train_accuracy"] == pytest.approx(0.5)
    assert result["selected_epoch"] == 7
    assert (result["accuracy"], result["accuracy_txt_head"], result["accuracy_img_head"]) == pytest.approx(
        (0.25, 0.75, 0.25)
    )


def _row(model, seed, acc, txt=None, img=None):
    rec = dict(
        dataset="d",
        model=model,
        noise_type="gaussian",
        noise_level=0,
        seed=seed,
        eval_seed=1,
        accuracy=acc,
        train_accuracy=0.9 + 0.1 * (seed - 1),
        selected_epoch=seed + 1,
    )
    if txt is not None:
        rec.update(accuracy_txt_head=txt, accuracy_img_head=img)
    return rec


def test_heads_table_puts_fused_beside_its_heads():
    evals = pd.DataFrame(
        [
            _row("qmf", 1, 0.60, 0.70, 0.50),
            _row("qmf", 2, 0.64, 0.74, 0.54),
            _row("bert", 1, 0.70),
            _row("bert", 2, 0.72),
        ]
    )
    table = heads_markdown(summarize(evals))
    # qmf: fused 62 ± 2.83 (sample std of 60, 64), text head 72, image head 52, train 95 %, epoch 2.5
    assert "| qmf | 62.00 ± 2.83 | 72.00 | 52.00 | 95.00 | 2.5 |" in table
    assert "| bert | 71.00 ± 1.41 | – | – | 95.00 | 2.5 |" in table


def test_clean_test_set_loaded_once_and_every_json_has_the_diagnostics(tmp_path):
    """Every level-0 condition is the clean test set: loaded once for all runs (seeds), and the diagnostics of
    each run (its own selected epoch) in each of its files."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    hp = settings("latefusion", dropout=0.0)
    checkpoints = []
    for seed, epoch in ((1, 3), (2, 5)):
        checkpoints.append(tmp_path / f"seed{seed}" / "model.pt")
        save_checkpoint(
            checkpoints[-1],
            {
                "fingerprint": "x",
                "model": _identity_heads("latefusion").state_dict(),
                "model_name": "latefusion",
                "hp": hp.as_dict(),
                "n_classes": 2,
                "n_train": 4,
                "epoch": epoch,
            },
        )
    loaded = []

    def loader(name):  # one loader per condition, as the CLI builds them
        return lambda: loaded.append(name) or _inputs()

    conds = [
        (NoiseCondition(t, 0, e, "original"), loader(f"{t}0e{e}")) for t in ("gaussian", "salt_pepper") for e in (1, 2)
    ]
    conds.append((NoiseCondition("gaussian", 5, 1, "original"), loader("gaussian5e1")))
    ds = dataset_config(params, "synthetic")
    written = evaluate_runs(checkpoints, hp, ds, params["features"], _inputs(), conds)
    assert loaded == ["gaussian0e1", "gaussian5e1"] and len(written) == 10
    results = {(p.parent.parent.name, p.stem): json.loads(p.read_text()) for p in written}
    assert {run for run, _ in results} == {"seed1", "seed2"}
    for (run, _), r in results.items():
        assert r["accuracy"] == pytest.approx(0.25)
        assert (r["accuracy_txt_head"], r["accuracy_img_head"], r["train_accuracy"]) == pytest.approx(
            (0.75, 0.25, 0.25)
        )
        assert r["selected_epoch"] == {"seed1": 3, "seed2": 5}[run]


def _flagged_inputs() -> SplitInputs:
    """The four samples with images 2 and 3 noised and text 0 changed (text 1 drawn but left intact)."""
    return SplitInputs(
        _inputs().arrays,
        LABELS,
        image_noised=np.array([0, 0, 1, 1], bool),
        text_noised=np.array([1, 1, 0, 0], bool),
        text_masked=np.array([1, 0, 0, 0], bool),
    )


def test_weight_diagnostic_of_qmf_by_hand():
    # QMF's weight = logsumexp(logits) / 10 of each head:
    #   text  rows [2,0] [0,1] [3,1] [1,2] -> 2.1269, 1.3133, 3.1269, 2.3133 (/10)
    #   image rows [0,5] [4,0] [1,0] [0,1] -> 5.0067, 4.0182, 1.3133, 1.3133 (/10)
    # image: noised 2, 3 have the lowest weights -> AUROC 1
    # text: only text 0 changed (text_masked); 0.2127 is lower than 0.3127 and 0.2313, not 0.1313 -> 2/3
    # Spearman with the heads' CE (labels 0, 1, 1, 1):
    #   text  CE 0.1269, 0.3133, 2.1269, 0.3133: ranks w (2, 1, 4, 3), CE (1, 2.5, 4, 2.5) -> 3 / sqrt(5 * 4.5)
    #   image CE 5.0067, 4.0182, 1.3133, 0.3133: ranks w (4, 3, 1.5, 1.5), CE (4, 3, 2, 1) -> 4.5 / sqrt(4.5 * 5)
    pred = predict(_identity_heads("qmf"), _flagged_inputs(), torch.device("cpu"))
    diagnostic = condition_metrics(pred, _flagged_inputs(), 2)["weight_diagnostic"]
    assert diagnostic["img"]["n_noised"] == 2 and diagnostic["txt"]["n_noised"] == 1
    assert diagnostic["img"]["auroc_lower_weight_noised"] == 1.0
    assert diagnostic["txt"]["auroc_lower_weight_noised"] == pytest.approx(2 / 3)
    assert diagnostic["txt"]["spearman_weight_head_ce"] == pytest.approx(3 / math.sqrt(22.5))
    assert diagnostic["img"]["spearman_weight_head_ce"] == pytest.approx(4.5 / math.sqrt(22.5))


def test_late_fusion_is_the_floor_and_a_clean_condition_has_no_auroc():
    pred = predict(_identity_heads("latefusion"), _flagged_inputs(), torch.device("cpu"))
    diagnostic = condition_metrics(pred, _flagged_inputs(), 2)["weight_diagnostic"]
    for modality in ("img", "txt"):  # constant 0.5: every pair a tie -> 0.5; no rank correlation of a constant
        assert diagnostic[modality]["auroc_lower_weight_noised"] == 0.5
        assert diagnostic[modality]["spearman_weight_head_ce"] is None
    clean = condition_metrics(predict(_identity_heads("pdf"), _inputs(), torch.device("cpu")), _inputs(), 2)
    for modality in ("img", "txt"):
        assert clean["weight_diagnostic"][modality]["n_noised"] == 0
        assert clean["weight_diagnostic"][modality]["auroc_lower_weight_noised"] is None
        assert clean["weight_diagnostic"][modality]["spearman_weight_head_ce"] is not None


def test_models_without_fusion_weights_have_no_weight_diagnostic():
    model = RunModel(build_model("concatbow", DIMS, 2, settings("concatbow"), n_train=4))
    assert "weight_diagnostic" not in condition_metrics(predict(model, _inputs(), torch.device("cpu")), _inputs(), 2)


def test_evaluation_json_holds_the_weight_diagnostic(tmp_path):
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    hp = settings("qmf", dropout=0.0)
    save_checkpoint(
        tmp_path / "seed1" / "model.pt",
        {
            "fingerprint": "x",
            "model": _identity_heads("qmf").state_dict(),
            "model_name": "qmf",
            "hp": hp.as_dict(),
            "n_classes": 2,
            "n_train": 4,
            "epoch": 1,
        },
    )
    conds = [
        (NoiseCondition("gaussian", 0, 1, "original"), _inputs()),
        (NoiseCondition("gaussian", 5, 1, "original"), _flagged_inputs()),
    ]
    ds = dataset_config(params, "synthetic")
    written = evaluate_runs([tmp_path / "seed1" / "model.pt"], hp, ds, params["features"], _inputs(), conds)
    clean, noisy = (json.loads(p.read_text())["weight_diagnostic"] for p in written)
    assert clean["img"]["auroc_lower_weight_noised"] is None and clean["txt"]["auroc_lower_weight_noised"] is None
    assert noisy["img"]["auroc_lower_weight_noised"] == 1.0
    assert noisy["txt"]["auroc_lower_weight_noised"] == pytest.approx(2 / 3)
