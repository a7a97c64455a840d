"""Evaluation metrics: accuracy, macro-F1, NLL, expected calibration error."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean())


def macro_f1(logits: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """Unweighted mean over classes of F1; a class with no predictions and no labels is skipped."""
    pred = logits.argmax(1)
    scores = []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (labels == c))
        fp = np.sum((pred == c) & (labels != c))
        fn = np.sum((pred != c) & (labels == c))
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class (stable log-softmax)."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def reliability_bins(logits: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict[str, list]:
    """Equal-width confidence bins (right-closed, as is usual): per bin the sample count, the mean
    confidence and the accuracy (None for an empty bin) — a reliability diagram's data."""
    probs = softmax(logits)
    conf, pred = probs.max(1), probs.argmax(1)
    correct = (pred == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins: dict[str, list] = {"count": [], "confidence": [], "accuracy": []}
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (conf > lo) & (conf <= hi)
        bins["count"].append(int(in_bin.sum()))
        bins["confidence"].append(float(conf[in_bin].mean()) if in_bin.any() else None)
        bins["accuracy"].append(float(correct[in_bin].mean()) if in_bin.any() else None)
    return bins


def ece_from_bins(bins: dict[str, list]) -> float:
    """Sum over bins of (bin share of samples) x |accuracy - mean confidence|."""
    n = sum(bins["count"])
    total = 0.0
    for count, conf, acc in zip(bins["count"], bins["confidence"], bins["accuracy"], strict=True):
        if count:
            total += count / n * abs(acc - conf)
    return float(total)


def ece(logits: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error with equal-width confidence bins."""
    return ece_from_bins(reliability_bins(logits, labels, n_bins))
