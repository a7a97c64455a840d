"""QMF pieces against values computed by hand (the arithmetic is in the comments)."""

import math

import pytest
import torch

from pdf_core.models import build_model
from pdf_core.models.base import InputDims
from pdf_core.models.qmf import energy_confidence, fuse, normalized_history, rank_loss, rank_targets
from tests.conftest import settings

LN2, LN3 = math.log(2), math.log(3)
DIMS = InputDims(txt=8, img_regions=3, img=5, bow=4)


def test_energy_confidence_by_hand():
    # logsumexp([0, 0]) = ln 2; logsumexp([ln 3, 0]) = ln(3 + 1) = ln 4; both divided by 10
    # logsumexp([1000, 1000]) = 1000 + ln 2 (the unstable log(sum(exp)) would give inf)
    logits = torch.tensor([[0.0, 0.0], [LN3, 0.0], [1000.0, 1000.0]])
    expected = torch.tensor([LN2 / 10, math.log(4) / 10, (1000 + LN2) / 10])
    assert torch.allclose(energy_confidence(logits), expected, atol=1e-5)


def test_fused_logits_by_hand_and_weights_detached():
    # [1, 2] * 0.5 + [3, -1] * 0.25 = [0.5 + 0.75, 1 - 0.25] = [1.25, 0.75]
    txt = torch.tensor([[1.0, 2.0]], requires_grad=True)
    img = torch.tensor([[3.0, -1.0]], requires_grad=True)
    c_txt = torch.tensor([0.5], requires_grad=True)
    c_img = torch.tensor([0.25], requires_grad=True)
    fused = fuse(txt, img, c_txt, c_img)
    assert torch.allclose(fused, torch.tensor([[1.25, 0.75]]))
    fused.sum().backward()
    assert c_txt.grad is None and c_img.grad is None  # confidences enter detached
    assert torch.allclose(txt.grad, torch.tensor([[0.5, 0.5]]))


def _out(txt_logits, img_logits):
    return {
        "logits": txt_logits + img_logits,
        "txt_logits": txt_logits,
        "img_logits": img_logits,
        "weight_txt": energy_confidence(txt_logits),
        "weight_img": energy_confidence(img_logits),
    }


def test_history_index_add_over_two_steps_and_normalisation():
    model = build_model("qmf", DIMS, 2, settings("qmf", dropout=0.0), n_train=4)
    # per-sample CE with labels [0, 1]:
    #   text  logits [0, 0] for both          -> ln 2, ln 2
    #   image logits [ln 3, 0] (label 0)      -> -ln(3/4) = 0.287682;  [0, 0] (label 1) -> ln 2
    txt = torch.zeros(2, 2)
    img = torch.tensor([[LN3, 0.0], [0.0, 0.0]])
    labels = torch.tensor([0, 1])
    ce_img0 = -math.log(0.75)
    model.loss(_out(txt, img), labels, torch.tensor([0, 2]))  # step 1: rows 0 and 2
    assert torch.allclose(model.txt_history, torch.tensor([LN2, 0, LN2, 0], dtype=torch.float64))
    assert torch.allclose(model.img_history, torch.tensor([ce_img0, 0, LN2, 0], dtype=torch.float64))
    model.loss(_out(txt, img), labels, torch.tensor([2, 3]))  # step 2: rows 2 and 3 (row 2 again)
    assert torch.allclose(model.txt_history, torch.tensor([LN2, 0, 2 * LN2, LN2], dtype=torch.float64))
    assert torch.allclose(model.img_history, torch.tensor([ce_img0, 0, ce_img0 + LN2, LN2], dtype=torch.float64))
    # min-max over the whole training set: text min 0, max 2 ln 2 -> [0.5, 0, 1, 0.5]
    norm = normalized_history(model.txt_history, torch.arange(4))
    assert torch.allclose(norm, torch.tensor([0.5, 0.0, 1.0, 0.5], dtype=torch.float64))


def test_rank_targets_and_margins_with_a_tie():
    # history [1, 3, 3, 2]: min 1, max 3 -> normalised [0, 1, 1, 0.5]
    # pairs (roll -1): (0,1) (1,2) (2,3) (3,0); h1 - h2 = [-1, 0, 0.5, 0.5]
    history = torch.tensor([1.0, 3.0, 3.0, 2.0], dtype=torch.float64)
    index2, target, margin = rank_targets(history, torch.arange(4))
    assert index2.tolist() == [1, 2, 3, 0]
    assert target.tolist() == [-1.0, 0.0, 1.0, 1.0]  # the tie (rows 1, 2) gives 0
    assert torch.allclose(margin, torch.tensor([1.0, 0.0, 0.5, 0.5], dtype=torch.float64))


def test_rank_loss_value_by_hand():
    # confidences c = [-1, 0.4, 0.9, 0.3]; c2 = roll(c, -1) = [0.4, 0.9, 0.3, -1]
    # target [-1, 0, 1, 1] (0 -> divide by 1), margin [1, 0, .5, .5]
    # x2 = c2 + margin / target = [0.4 - 1, 0.9 + 0, 0.3 + .5, -1 + .5] = [-0.6, 0.9, 0.8, -0.5]
    # MarginRankingLoss(margin 0), y = -target = [1, 0, -1, -1]: max(0, -y (x1 - x2))
    #   row 0: -(-1 + 0.6) = 0.4;  row 1: 0;  row 2: 0.9 - 0.8 = 0.1;  row 3: 0.3 + 0.5 = 0.8
    # mean = 1.3 / 4 = 0.325
    history = torch.tensor([1.0, 3.0, 3.0, 2.0], dtype=torch.float64)
    conf = torch.tensor([-1.0, 0.4, 0.9, 0.3])
    assert rank_loss(conf, history, torch.arange(4)).item() == pytest.approx(0.325, abs=1e-6)


@pytest.mark.parametrize(("fused_ce", "fused_term"), [(True, LN2), (False, 0.0)])
def test_loss_with_and_without_the_fused_ce(fused_ce, fused_term):
    # labels [0, 0]; txt logits [[0, 0], [0, 0]]: CE ln 2 each, mean ln 2
    # img logits [[ln 3, 0], [0, 0]]: CE -ln(3/4) = ln(4/3) and ln 2, mean (ln(4/3) + ln 2) / 2
    # fused logits [[0, 0], [0, 0]]: CE ln 2, counted only with fused_ce (paper-era train_df.py: not)
    # ranking: txt histories equal -> target 0, margin 0 -> 0; img histories [ln(4/3), ln 2] -> [0, 1],
    #   target [-1, 1], margin [1, 1]; confidences [.5, .5]: x2 = [.5 - 1, .5 + 1], y = [1, -1]
    #   -> max(0, -(0.5 + 0.5)) = 0 and max(0, (0.5 - 1.5)) = 0
    model = build_model("qmf", DIMS, 2, settings("qmf", dropout=0.0, fused_ce=fused_ce), n_train=2)
    zeros = torch.zeros(2, 2)
    out = {
        "logits": zeros,
        "txt_logits": zeros,
        "img_logits": torch.tensor([[LN3, 0.0], [0.0, 0.0]]),
        "weight_txt": torch.full((2,), 0.5),
        "weight_img": torch.full((2,), 0.5),
    }
    loss = model.loss(out, torch.tensor([0, 0]), torch.arange(2))
    assert loss.item() == pytest.approx(fused_term + LN2 + (math.log(4 / 3) + LN2) / 2, abs=1e-6)


def test_epoch_counter_variant_normalisation():
    # the variant uses the counter line the original left commented out (it normalises by the observed max):
    # max_correctness starts at 1, +1 at the end of each epoch after the first
    model = build_model("qmf", DIMS, 2, settings("qmf", dropout=0.0, history_norm="epoch_counter"), n_train=4)
    counts = []
    for epoch in (1, 2, 3):
        model.on_epoch_end(epoch)
        counts.append(float(model.max_correctness))
    assert counts == [1.0, 2.0, 3.0]
    # history [1, 3, 3, 2], max := counter 2 -> (h - 1) / (2 - 1) = [0, 2, 2, 1] (leaves [0, 1])
    history = torch.tensor([1.0, 3.0, 3.0, 2.0], dtype=torch.float64)
    assert normalized_history(history, torch.arange(4), hi=2.0).tolist() == [0.0, 2.0, 2.0, 1.0]
    # counter below the smallest history: history [3, 5], counter 1 -> (h - 3) / (1 - 3) = [0, -1]
    # the sign flips: target = sign(0 - (-1)) = +1 where the observed max gives -1
    history = torch.tensor([3.0, 5.0], dtype=torch.float64)
    assert rank_targets(history, torch.arange(2), hi=1.0)[1].tolist() == [1.0, -1.0]
    assert rank_targets(history, torch.arange(2))[1].tolist() == [-1.0, 1.0]


def test_normalisation_keeps_tiny_spans_and_turns_a_zero_one_into_zeros():
    # history [0, 1e-13, 5e-14]: the span 1e-13 is the original's denominator -> [0, 1, 0.5]
    tiny = torch.tensor([0.0, 1e-13, 5e-14], dtype=torch.float64)
    assert normalized_history(tiny, torch.arange(3)).tolist() == pytest.approx([0.0, 1.0, 0.5], rel=1e-12)
    # all equal (the original's 0 / 0): every normalised value 0, every target 0 (a tie), margins 0
    flat = torch.full((3,), 2.5, dtype=torch.float64)
    assert normalized_history(flat, torch.arange(3)).tolist() == [0.0, 0.0, 0.0]
    _, target, margin = rank_targets(flat, torch.arange(3))
    assert target.tolist() == [0.0, 0.0, 0.0] and margin.tolist() == [0.0, 0.0, 0.0]


def test_default_qmf_state_has_no_counter_and_bad_switch_is_refused():
    model = build_model("qmf", DIMS, 2, settings("qmf", dropout=0.0), n_train=4)
    assert "max_correctness" not in model.state_dict()
    with pytest.raises(ValueError, match="history_norm"):
        build_model("qmf", DIMS, 2, settings("qmf", dropout=0.0, history_norm="max"), n_train=4)
