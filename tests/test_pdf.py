"""PDF (Predictive Dynamic Fusion): mono/holo confidence, weights and relative calibration by hand."""

import math

import pytest
import torch
from torch import nn

from pdf_core.models import build_model
from pdf_core.models.base import InputDims
from pdf_core.models.pdf import (
    distribution_uniformity,
    fusion_weights,
    holo_confidence,
    relative_calibration,
    true_class_prob,
)
from tests.conftest import settings

LN3, LN7 = math.log(3), math.log(7)
DIMS = InputDims(txt=8, img_regions=3, img=5, bow=4)

# Two samples; predicted true-class probabilities (mono-confidences):
#   sample 0: c_txt = 0.5,  c_img = 0.25      sample 1: c_txt = 0.25, c_img = 0.5
CONF_TXT = torch.tensor([0.5, 0.25])
CONF_IMG = torch.tensor([0.25, 0.5])


def test_holo_confidence_by_hand():
    # sample 0: h_txt = ln .25 / (ln .5 + ln .25) = (-2 ln 2) / (-3 ln 2) = 2/3, h_img = 1/3
    # sample 1: mirrored -> h_txt = 1/3, h_img = 2/3
    h_txt, h_img = holo_confidence(CONF_TXT, CONF_IMG)
    assert torch.allclose(h_txt, torch.tensor([2 / 3, 1 / 3]))
    assert torch.allclose(h_img, torch.tensor([1 / 3, 2 / 3]))


def test_fusion_weights_by_hand():
    # co-beliefs: sample 0: cb_txt = 0.5 + 2/3 = 7/6, cb_img = 0.25 + 1/3 = 7/12
    # w_txt = softmax(cb_txt, cb_img)_0 = sigmoid(7/6 - 7/12) = sigmoid(7/12) = 0.641834
    # sample 1 is the mirror image: w_txt = 1 - 0.641834 = 0.358166
    w_txt, w_img = fusion_weights(CONF_TXT, CONF_IMG)
    assert torch.allclose(w_txt, torch.tensor([0.641834, 0.358166]), atol=1e-6)
    assert torch.allclose(w_txt + w_img, torch.ones(2))


def test_relative_calibration_by_hand():
    # text logits: both samples [ln 3, 0] -> p [0.75, 0.25] -> du = mean(|.75-.5|, |.25-.5|) = 0.25
    # image logits: sample 0 [0, 0] -> du 0;  sample 1 [ln 7, 0] -> p [7/8, 1/8] -> du = 0.375
    txt_logits = torch.tensor([[LN3, 0.0], [LN3, 0.0]])
    img_logits = torch.tensor([[0.0, 0.0], [LN7, 0.0]])
    du_t, du_i = distribution_uniformity(txt_logits), distribution_uniformity(img_logits)
    assert torch.allclose(du_t, torch.tensor([0.25, 0.25])) and torch.allclose(du_i, torch.tensor([0.0, 0.375]))
    # sample 0: text more certain -> rc_txt 1, rc_img 0 / 0.25 = 0
    # sample 1: image more certain -> rc_txt = 0.25 / 0.375 = 2/3, rc_img 1
    rc_t, rc_i = relative_calibration(du_t, du_i)
    assert torch.allclose(rc_t, torch.tensor([1.0, 2 / 3])) and torch.allclose(rc_i, torch.tensor([0.0, 1.0]))
    # calibrated co-beliefs: sample 0: (7/6 * 1, 7/12 * 0) -> w_txt = sigmoid(7/6) = 0.762542
    #                        sample 1: (7/12 * 2/3 = 7/18, 7/6 * 1)
    #                                  -> w_txt = sigmoid(7/18 - 7/6) = sigmoid(-7/9) = 0.314799
    w_txt, _ = fusion_weights(CONF_TXT, CONF_IMG, rc_t, rc_i)
    assert torch.allclose(w_txt, torch.tensor([0.762542, 0.314799]), atol=1e-6)


def original_weights(conf_txt, conf_img, rc_txt=None, rc_img=None):
    """The official test-time expression, operation for operation (NaN where it is NaN): the reference below."""
    denom = torch.log(conf_txt * conf_img) + 1e-8
    cb_txt, cb_img = conf_txt + torch.log(conf_img) / denom, conf_img + torch.log(conf_txt) / denom
    if rc_txt is not None:
        cb_txt, cb_img = cb_txt * rc_txt, cb_img * rc_img
    w = torch.softmax(torch.stack([cb_txt, cb_img], dim=1), dim=1)
    return w[:, 0], w[:, 1]


def original_calibration(du_txt, du_img):
    txt_more = du_txt > du_img
    return (
        torch.where(txt_more, torch.ones_like(du_txt), du_txt / du_img),
        torch.where(txt_more, du_img / du_txt, torch.ones_like(du_img)),
    )


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_tcp_of_one_is_not_clamped():
    # (c_txt, c_img) = (1, 0.5): h_txt = ln .5 / (ln .5 + 1e-8) = 1 in float32, h_img = ln 1 / ... = 0
    #   -> co-beliefs (1 + 1, 0.5 + 0) -> w_txt = sigmoid(1.5) = 0.817574
    # (1, 1): both logs 0, denominator 1e-8 -> h = (0, 0) -> co-beliefs (1, 1) -> w_txt = 0.5
    h_txt, h_img = holo_confidence(torch.tensor([1.0, 1.0]), torch.tensor([0.5, 1.0]))
    assert h_txt.tolist() == [1.0, 0.0] and h_img.tolist() == [0.0, 0.0]
    w_txt, _ = fusion_weights(torch.tensor([1.0, 1.0]), torch.tensor([0.5, 1.0]))
    assert w_txt.tolist() == pytest.approx([sigmoid(1.5), 0.5], abs=1e-7)


def test_tcp_of_zero_is_read_as_the_smallest_normal():
    # the original: ln 0 = -inf -> h_img = -inf / -inf = NaN; here c_txt = tiny = 2^-126:
    # (tiny, 0.5): h_txt = ln .5 / (ln 2^-127) = 1/127, h_img = 126/127
    #   -> w_txt = sigmoid(tiny + 1/127 - 0.5 - 126/127) = sigmoid(-0.5 - 125/127) = 0.184786
    # (tiny, tiny): the product 2^-252 underflows to 0 -> log -inf -> h = (0, 0) -> w_txt = 0.5
    conf_txt, conf_img = torch.tensor([0.0, 0.0]), torch.tensor([0.5, 0.0])
    assert torch.isnan(original_weights(conf_txt, conf_img)[0]).all()
    h_txt, h_img = holo_confidence(conf_txt, conf_img)
    assert h_txt.tolist() == pytest.approx([1 / 127, 0.0], abs=1e-7)
    assert h_img.tolist() == pytest.approx([126 / 127, 0.0], abs=1e-7)
    w_txt, w_img = fusion_weights(conf_txt, conf_img)
    assert w_txt.tolist() == pytest.approx([sigmoid(-0.5 - 125 / 127), 0.5], abs=1e-7)
    assert torch.isfinite(w_img).all()


def test_tiny_tcp_by_hand():
    # (2^-100, 0.5): h_txt = ln .5 / ln 2^-101 = 1/101, h_img = 100/101 -> w_txt = sigmoid(-0.5 - 99/101)
    # (2^-100, 2^-60): the product 2^-160 underflows to 0 in float32 -> h = (0, 0), as in the original
    #   -> co-beliefs (2^-100, 2^-60) -> w_txt = 0.5
    conf_txt, conf_img = torch.tensor([2.0**-100, 2.0**-100]), torch.tensor([0.5, 2.0**-60])
    h_txt, h_img = holo_confidence(conf_txt, conf_img)
    assert h_txt.tolist() == pytest.approx([1 / 101, 0.0], abs=1e-7)
    assert h_img.tolist() == pytest.approx([100 / 101, 0.0], abs=1e-7)
    w_txt, _ = fusion_weights(conf_txt, conf_img)
    assert w_txt.tolist() == pytest.approx([sigmoid(-0.5 - 99 / 101), 0.5], abs=1e-7)


# predicted TCPs from saturated to zero: 1, the largest float32 below 1, ..., a subnormal, 0
EDGE_TCPS = [1.0, 1 - 2.0**-24, 0.999999, 0.5, 1e-6, 2.0**-100, 1e-40, 0.0]


def test_weights_equal_the_original_wherever_it_is_finite():
    pairs = torch.tensor([(a, b) for a in EDGE_TCPS for b in EDGE_TCPS])
    conf_txt, conf_img = pairs[:, 0], pairs[:, 1]
    torch.manual_seed(0)
    du_txt, du_img = torch.rand(len(pairs)), torch.rand(len(pairs))
    rc = relative_calibration(du_txt, du_img)
    assert all(torch.equal(mine, theirs) for mine, theirs in zip(rc, original_calibration(du_txt, du_img), strict=True))
    for args in ((), rc):
        mine, theirs = fusion_weights(conf_txt, conf_img, *args), original_weights(conf_txt, conf_img, *args)
        finite = torch.isfinite(theirs[0])
        assert finite.sum() == len(pairs) - 2 * len(EDGE_TCPS) + 1  # NaN exactly where a TCP is 0
        for w_mine, w_theirs in zip(mine, theirs, strict=True):
            assert torch.equal(w_mine[finite], w_theirs[finite])
            assert torch.isfinite(w_mine).all()


def test_relative_calibration_is_exact_for_tiny_uniformities():
    # du (1e-14, 5e-15): text more certain -> rc_img = 5e-15 / 1e-14 = 0.5 (no floor under the denominator)
    # du (0, 0): the original's 0 / 0 -> both 1;  du (0, 0.25): rc_txt = 0 / 0.25 = 0, rc_img 1
    # du (0.25, 0.25): not "text more certain" -> rc_txt = 0.25 / 0.25 = 1, rc_img 1
    du_txt = torch.tensor([1e-14, 0.0, 0.0, 0.25], dtype=torch.float64)
    du_img = torch.tensor([5e-15, 0.0, 0.25, 0.25], dtype=torch.float64)
    rc_t, rc_i = relative_calibration(du_txt, du_img)
    assert rc_t.tolist() == [1.0, 1.0, 0.0, 1.0] and rc_i.tolist() == [0.5, 1.0, 1.0, 1.0]


def test_true_class_probability_and_loss_by_hand():
    # txt logits [ln 3, 0], label 0 -> p_true 0.75; img logits [0, 0] -> 0.5
    # loss = CE(fused [0, 0]) + CE(txt) + CE(img) + |0.5 - 0.75| + |0.25 - 0.5|
    #      = ln 2 + (-ln .75) + ln 2 + 0.25 + 0.25 = 2.173976
    labels = torch.tensor([0])
    txt_logits, img_logits = torch.tensor([[LN3, 0.0]]), torch.zeros(1, 2)
    assert true_class_prob(txt_logits, labels).item() == pytest.approx(0.75)
    model = build_model("pdf", DIMS, 2, settings("pdf", dropout=0.0), n_train=1)
    out = {
        "logits": torch.zeros(1, 2),
        "txt_logits": txt_logits,
        "img_logits": img_logits,
        "conf_txt": torch.tensor([0.5]),
        "conf_img": torch.tensor([0.25]),
    }
    assert model.loss(out, labels, torch.tensor([0])).item() == pytest.approx(2.173976, abs=1e-5)


def _fixed_model(n_classes=2):
    """A PDF model whose confidence nets output the constants CONF_TXT / CONF_IMG row by row."""
    model = build_model("pdf", DIMS, n_classes, settings("pdf", dropout=0.0), n_train=2)

    class Rows(nn.Module):
        def __init__(self, values):
            super().__init__()
            self.values = values

        def forward(self, x):
            return self.values.unsqueeze(1)

    model.txt_conf, model.img_conf = Rows(CONF_TXT), Rows(CONF_IMG)
    return model


def test_forward_calibrates_only_in_eval():
    model = _fixed_model()
    # text head -> [ln 3, 0] for both rows, image head -> [0, 0] and [ln 7, 0]
    model.txt_head = nn.Sequential(nn.Flatten(1), nn.Linear(8, 2))
    with torch.no_grad():
        model.txt_head[1].weight.zero_()
        model.txt_head[1].bias.copy_(torch.tensor([LN3, 0.0]))
    img_head = nn.Linear(15, 2)
    with torch.no_grad():
        img_head.weight.zero_()
        img_head.weight[0, 0] = LN7
        img_head.bias.zero_()
    model.img_head = nn.Sequential(nn.Flatten(1), img_head)
    img = torch.zeros(2, 3, 5)
    img[1, 0, 0] = 1.0
    feats = {"txt": torch.zeros(2, 8), "img": img}
    model.train()
    assert torch.allclose(model(feats)["weight_txt"], torch.tensor([0.641834, 0.358166]), atol=1e-6)
    model.eval()
    out = model(feats)
    assert torch.allclose(out["weight_txt"], torch.tensor([0.762542, 0.314799]), atol=1e-6)
    # fused logits = w_txt * txt + w_img * img; row 0: img logits are 0 -> 0.762542 * [ln 3, 0]
    assert torch.allclose(out["logits"][0], torch.tensor([0.762542 * LN3, 0.0]), atol=1e-5)


def test_gradients_are_separated():
    torch.manual_seed(0)
    model = build_model("pdf", DIMS, 3, settings("pdf", dropout=0.0), n_train=4)
    feats = {"txt": torch.randn(4, 8, requires_grad=True), "img": torch.randn(4, 3, 5)}
    out = model(feats)
    labels = torch.tensor([0, 1, 2, 0])
    # the L1 terms train only the confidence nets: no gradient reaches the heads or the features
    (torch.nn.functional.l1_loss(out["conf_txt"], true_class_prob(out["txt_logits"], labels).detach())).backward()
    assert model.txt_head[1].weight.grad is None and feats["txt"].grad is None
    assert model.txt_conf[0].weight.grad is not None
    # CE on the fused logits does not reach the confidence nets (weights detached)
    model.zero_grad(set_to_none=True)
    out = model(feats)
    torch.nn.functional.cross_entropy(out["logits"], labels).backward()
    assert all(p.grad is None for p in model.txt_conf.parameters())
    assert model.txt_head[1].weight.grad is not None


def test_default_confidence_net_is_the_official_shape():
    model = build_model("pdf", DIMS, 3, settings("pdf", dropout=0.0), n_train=4)
    linears = [m for m in model.img_conf if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(15, 30), (30, 15), (15, 1)]
    assert not any(isinstance(m, nn.ReLU) for m in model.img_conf)
    assert isinstance(model.img_conf[-1], nn.Sigmoid)
    relu = build_model("pdf", DIMS, 3, settings("pdf", dropout=0.0, confnet_hidden=[4], confnet_activation="relu"), 4)
    assert [type(m).__name__ for m in relu.txt_conf] == ["Linear", "ReLU", "Linear", "Sigmoid"]


def test_confnet_weight_decay_names_the_official_layers():
    # train_pdf.py decays `ConfidNet_txt.0.weight` and `ConfidNet_img.1.weight`: text net's first linear, image's second
    assert build_model("pdf", DIMS, 3, settings("pdf"), 10).weight_decay_overrides() == {}
    model = build_model("pdf", DIMS, 3, settings("pdf", confnet_weight_decay=1.0), 10)
    assert model.weight_decay_overrides() == {"txt_conf.0.weight": 1.0, "img_conf.1.weight": 1.0}
    assert model.img_conf[1].weight.shape == (DIMS.img_flat, 2 * DIMS.img_flat)  # Linear(2d, d)
    relu = build_model("pdf", DIMS, 3, settings("pdf", confnet_weight_decay=1.0, confnet_activation="relu"), 10)
    assert relu.weight_decay_overrides() == {"txt_conf.0.weight": 1.0, "img_conf.2.weight": 1.0}  # ReLU at 1
    one_linear = build_model("pdf", DIMS, 3, settings("pdf", confnet_weight_decay=1.0, confnet_hidden=[]), 10)
    with pytest.raises(ValueError, match="decays linear layer 2 of img_conf, which has 1"):
        one_linear.weight_decay_overrides()
