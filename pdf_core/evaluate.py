"""Evaluation of trained runs (the seeds of one model) under every test-time noise condition of the grid.

One JSON per condition: ``<run_dir>/eval/<noise_type>_<level>_e<eval_seed>.json`` with accuracy,
macro-F1, NLL, ECE and — for models that report fusion weights — the mean weight per modality
split by whether that modality of the sample was noised (the quantity QMF claims to get right).

Diagnostics beside the fused accuracy: for late-fusion models (latefusion, tmc, qmf, pdf) the accuracy
of each modality's own head alone (``accuracy_txt_head``, ``accuracy_img_head``: the argmax of its
logits), and for every model the accuracy on the training set at the selected (best-dev) epoch
(``train_accuracy``, ``selected_epoch``), so "fusion below its better part" and "memorised the
training set" are visible in the tables.

``weight_diagnostic`` (models that report per-sample fusion weights): does the method know which
modality is bad? Per modality, the AUROC of "lower weight -> this modality was noised" over the
condition's samples (1: the weight drops exactly on the noised samples, 0.5: no better than chance;
late fusion's constant weights tie everywhere and give exactly 0.5; null when the condition noised
no sample of that modality, or every one), and Spearman's correlation between the weight and the
per-sample cross-entropy of that modality's own head (negative: the weight falls as the head's loss
rises; null for a constant weight). Noised text = a text that actually changed (``text_masked``):
a text drawn for masking that kept every word is the clean text.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from pdf_core import metrics, paths
from pdf_core.device import pick_device, place_model
from pdf_core.faults import failpoint
from pdf_core.inputs import SplitInputs
from pdf_core.io_utils import remove_stale_temps, write_json
from pdf_core.noise import NoiseCondition
from pdf_core.run_model import RunModel, build_run_model
from pdf_core.settings import RunSettings
from pdf_core.train import predict

log = logging.getLogger(__name__)


def _eval_path(run_dir: Path, cond: NoiseCondition) -> Path:
    return paths.eval_file(run_dir, cond.noise_type, cond.level, cond.eval_seed)


def _mean_or_none(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def head_accuracies(pred: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, float]:
    """Accuracy of each modality's head alone, for models that return per-modality logits."""
    return {
        f"accuracy_{modality}_head": metrics.accuracy(pred[f"{modality}_logits"], labels)
        for modality in ("txt", "img")
        if f"{modality}_logits" in pred
    }


def weight_diagnostic(pred: dict[str, np.ndarray], inputs: SplitInputs) -> dict[str, dict]:
    """Per modality with a fusion weight: how many samples were noised, the AUROC of a lower weight for
    telling them from the clean ones, and the weight's rank correlation with its head's per-sample CE."""
    out = {}
    for modality, noised in (("img", inputs.image_noised), ("txt", inputs.text_masked)):
        weight = pred.get(f"weight_{modality}")
        if weight is None:
            continue
        head_ce = metrics.cross_entropy(pred[f"{modality}_logits"], inputs.labels)
        out[modality] = {
            "n_noised": int(noised.sum()),
            "auroc_lower_weight_noised": metrics.auroc(-weight, noised),  # negated: a lower weight flags noise
            "spearman_weight_head_ce": metrics.spearman(weight, head_ce),
        }
    return out


def condition_metrics(pred: dict[str, np.ndarray], inputs: SplitInputs, n_classes: int) -> dict:
    logits, labels = pred["logits"], inputs.labels
    bins = metrics.reliability_bins(logits, labels)
    out = {
        "n": int(len(labels)),
        "accuracy": metrics.accuracy(logits, labels),
        "macro_f1": metrics.macro_f1(logits, labels, n_classes),
        "nll": metrics.nll(logits, labels),
        "ece": metrics.ece_from_bins(bins),
        "reliability": bins,
        **head_accuracies(pred, labels),
        "frac_image_noised": float(inputs.image_noised.mean()),
        "frac_text_noised": float(inputs.text_noised.mean()),  # texts drawn for masking
        "text_masked_fraction": float(inputs.text_masked.mean()),  # texts with at least one word masked
    }
    for modality, flags in (("img", inputs.image_noised), ("txt", inputs.text_noised)):
        key = f"weight_{modality}"
        if key in pred:
            out[f"{key}_mean"] = float(pred[key].mean())
            out[f"{key}_noised"] = _mean_or_none(pred[key][flags])
            out[f"{key}_clean"] = _mean_or_none(pred[key][~flags])
    diagnostic = weight_diagnostic(pred, inputs)
    if diagnostic:
        out["weight_diagnostic"] = diagnostic
    return out


def load_run(checkpoint: Path, hp: RunSettings, ds: dict, features_cfg: dict, train_inputs: SplitInputs, device):
    """The trained model of one run, refused when its checkpoint was made with other settings; its name, class
    count and the epoch dev selection kept."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model_name, n_classes = ckpt["model_name"], ckpt["n_classes"]
    model = build_run_model(model_name, hp, ds, features_cfg, n_classes, train_inputs)
    if ckpt["hp"] != hp.as_dict() or ckpt["n_train"] != len(train_inputs):
        raise ValueError(
            f"{checkpoint}: checkpoint config differs from params.yaml for {model_name} "
            f"(saved {ckpt['hp']}, now {hp.as_dict()}); retrain this run"
        )
    model.load_state_dict(ckpt["model"])
    return place_model(model, device), model_name, n_classes, ckpt["epoch"]


def _fit(model: RunModel, train_inputs: SplitInputs, device, precision: str, epoch: int) -> dict:
    """How well the kept epoch fits the training set: with the clean test accuracy, a memorised train split
    shows (train accuracy near 1 at an early ``selected_epoch``)."""
    fit = predict(model, train_inputs, device, precision=precision)["logits"]
    return {"train_accuracy": metrics.accuracy(fit, train_inputs.labels), "selected_epoch": epoch}


def evaluate_runs(
    checkpoints: list[Path],
    hp: RunSettings,
    ds: dict,
    features_cfg: dict,
    train_inputs: SplitInputs,
    conditions: list[tuple[NoiseCondition, SplitInputs | callable]],
) -> list[Path]:
    """Evaluate each checkpoint (the seeds of one model) on each (condition, inputs) pair into the eval
    files of its run directory (the checkpoint's folder).

    ``inputs`` may be a zero-argument loader: one condition's arrays are loaded once for all runs and
    only they are in memory. Every level-0 condition is the clean test set, predicted once per run.
    """
    device = pick_device(hp.device)
    runs = []
    for ckpt in checkpoints:
        model, model_name, n_classes, epoch = load_run(ckpt, hp, ds, features_cfg, train_inputs, device)
        fit = _fit(model, train_inputs, device, hp.precision, epoch)
        runs.append((ckpt.parent, model, model_name, n_classes, fit))
    for run_dir, *_ in runs:
        remove_stale_temps(paths.eval_dir(run_dir), (_eval_path(run_dir, c).name for c, _ in conditions))
    written = []
    clean: dict[Path, tuple] = {}  # run -> (inputs, predictions) of the clean test set
    for cond, inputs in conditions:
        if cond.level > 0 or not clean:
            inputs = inputs() if callable(inputs) else inputs
        for run_dir, model, model_name, n_classes, fit in runs:
            if cond.level == 0 and run_dir in clean:
                inputs, pred = clean[run_dir]
            else:
                pred = predict(model, inputs, device, precision=hp.precision)
                if cond.level == 0:
                    clean[run_dir] = inputs, pred
            result = condition_metrics(pred, inputs, n_classes)
            result.update(
                noise_type=cond.noise_type,
                noise_level=cond.level,
                eval_seed=cond.eval_seed,
                noise_parity=cond.parity,
                model=model_name,
                dataset=ds["name"],
                **fit,
            )
            path = _eval_path(run_dir, cond)
            write_json(path, result)
            failpoint("eval_condition")  # test hook (pdf_core.faults): kill between conditions
            written.append(path)
            log.info(
                "%s %s eps=%g e%d: acc %.4f", run_dir, cond.noise_type, cond.level, cond.eval_seed, result["accuracy"]
            )
    return written
