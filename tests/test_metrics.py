"""Evaluation metrics against values computed by hand."""

import math

import numpy as np
import pytest

from pdf_core import metrics


def test_accuracy_and_macro_f1():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])  # predictions 0, 1, 0, 1
    labels = np.array([0, 0, 0, 1])
    assert metrics.accuracy(logits, labels) == 0.75
    # class 0: tp=2 fp=0 fn=1 -> F1 = 4/5; class 1: tp=1 fp=1 fn=0 -> F1 = 2/3; mean = 0.7333...
    assert metrics.macro_f1(logits, labels, 2) == pytest.approx((0.8 + 2 / 3) / 2)


def test_nll_by_hand():
    logits = np.array([[0.0, 0.0], [math.log(3.0), 0.0]])  # p(true) = 1/2 and 3/4
    labels = np.array([1, 0])
    assert metrics.nll(logits, labels) == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2)


def test_nll_is_stable_for_huge_logits():
    assert metrics.nll(np.array([[1000.0, 0.0]]), np.array([0])) == pytest.approx(0.0)


def test_ece_by_hand():
    # confidences 0.75 (correct) and 0.75 (wrong) fall in one bin: |0.5 - 0.75| = 0.25
    logits = np.array([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    assert metrics.ece(logits, np.array([0, 1])) == pytest.approx(0.25)
    # two bins: conf 0.75 correct -> |1 - 0.75|, conf 0.5+ wrong -> |0 - 0.55|; weighted 1/2 each
    logits = np.array([[math.log(3.0), 0.0], [math.log(0.55 / 0.45), 0.0]])
    assert metrics.ece(logits, np.array([0, 1])) == pytest.approx(0.5 * 0.25 + 0.5 * 0.55)


def test_reliability_bins_and_ece_by_hand():
    from pdf_core.metrics import ece, ece_from_bins, reliability_bins

    # two classes, logits chosen so the confidences are 0.5 (a tie), 0.75, 0.75 and 0.9
    p = np.array([0.5, 0.75, 0.75, 0.9])
    logits = np.stack([np.log(p), np.log(1 - p)], axis=1)
    labels = np.array([1, 0, 1, 0])  # the tie predicts class 0: wrong; 0.75s: right, wrong; 0.9: right
    bins = reliability_bins(logits, labels, n_bins=4)  # (0, .25], (.25, .5], (.5, .75], (.75, 1]
    assert bins["count"] == [0, 1, 2, 1]
    assert bins["confidence"][1:] == pytest.approx([0.5, 0.75, 0.9]) and bins["confidence"][0] is None
    assert bins["accuracy"][1:] == [0.0, 0.5, 1.0]
    # ECE = 1/4 |0 - .5| + 2/4 |.5 - .75| + 1/4 |1 - .9| = .125 + .125 + .025
    assert ece_from_bins(bins) == pytest.approx(0.275) == ece(logits, labels, n_bins=4)


def test_cross_entropy_per_sample_by_hand():
    logits = np.array([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])  # p = [3/4, 1/4]
    assert metrics.cross_entropy(logits, np.array([0, 1])) == pytest.approx([-math.log(0.75), math.log(4.0)])


def test_auroc_by_hand():
    # positives score 0.35 and 0.8, negatives 0.1 and 0.4: of the 4 pairs the positive wins 3 -> 3/4
    assert metrics.auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], bool)) == 0.75
    assert metrics.auroc(np.array([0.0, 1.0]), np.array([0, 1], bool)) == 1.0
    assert metrics.auroc(np.array([0.0, 1.0]), np.array([1, 0], bool)) == 0.0


def test_auroc_counts_a_tie_as_one_half():
    # positives {1, 2}, negatives {1, 0}: 1 vs 1 tie (1/2), 1 vs 0, 2 vs 1, 2 vs 0 won -> 3.5 / 4
    assert metrics.auroc(np.array([1.0, 1.0, 2.0, 0.0]), np.array([1, 0, 1, 0], bool)) == 0.875
    # all scores equal (late fusion's constant weights): every pair a tie -> 0.5
    assert metrics.auroc(np.full(5, 0.5), np.array([1, 0, 0, 1, 0], bool)) == 0.5


def test_auroc_with_a_single_class_is_none_not_one_half():
    scores = np.array([0.2, 0.7, 0.4])
    assert metrics.auroc(scores, np.zeros(3, bool)) is None
    assert metrics.auroc(scores, np.ones(3, bool)) is None


def test_auroc_refuses_non_finite_scores():
    with pytest.raises(ValueError, match="auroc scores: 1 of 2 values are NaN or inf"):
        metrics.auroc(np.array([np.nan, 0.3]), np.array([1, 0], bool))


def test_spearman_by_hand():
    # ranks (1, 2, 3, 4) and (1, 3, 2, 4): d^2 = 0 + 1 + 1 + 0 -> 1 - 6 * 2 / (4 * 15) = 0.8
    assert metrics.spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 30.0, 20.0, 40.0])) == pytest.approx(0.8)
    assert metrics.spearman(np.array([1.0, 2.0, 3.0]), np.array([9.0, 4.0, 1.0])) == pytest.approx(-1.0)


def test_spearman_with_ties_uses_average_ranks():
    # x ranks (1, 2.5, 2.5, 4), y ranks (1, 2, 3, 4); centred: (-1.5, 0, 0, 1.5), (-1.5, -0.5, 0.5, 1.5)
    # -> 4.5 / sqrt(4.5 * 5) = 0.948683
    rho = metrics.spearman(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert rho == pytest.approx(4.5 / math.sqrt(22.5))


def test_spearman_of_a_constant_is_none():
    assert metrics.spearman(np.full(4, 0.5), np.array([1.0, 2.0, 3.0, 4.0])) is None
    assert metrics.spearman(np.array([1.0]), np.array([2.0])) is None
