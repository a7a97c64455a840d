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
