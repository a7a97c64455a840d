"""Evaluation metrics: accuracy, macro-F1, NLL, expected calibration error; AUROC and Spearman's rank
correlation for the fusion-weight diagnostic (pdf_core.evaluate)."""

from __future__ import annotations

import numpy as np
from scipy import stats


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


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample negative log-likelihood of the true class (stable log-softmax)."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


def nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class."""
    return float(cross_entropy(logits, labels).mean())


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


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: {int((~np.isfinite(values)).sum())} of {len(values)} values are NaN or inf")
    return values


def auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` for telling ``positive`` samples from the others: the chance
    that a random positive scores higher than a random negative, a tie counting 1/2 (Mann-Whitney U over
    n_pos * n_neg, from average ranks). None when either class is absent (no ROC curve exists)."""
    scores, positive = _finite(scores, "auroc scores"), np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(scores)  # ties share the mean of their positions
    u_statistic = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u_statistic / (n_pos * n_neg))


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation: the Pearson correlation of the average ranks of ``x`` and ``y``.
    None when either is constant (or there are fewer than two samples): no correlation is defined."""
    x, y = _finite(x, "spearman x"), _finite(y, "spearman y")
    if len(x) < 2:
        return None
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / norm) if norm > 0 else None
