"""TMC: opinions, Dempster–Shafer combination and the evidential loss, against hand-computed values."""

import math

import pytest
import torch

from pdf_core.models import build_model
from pdf_core.models.base import InputDims
from pdf_core.models.tmc import ds_combine, evidential_loss, kl_to_uniform, opinion
from tests.conftest import settings

DIMS = InputDims(txt=8, img_regions=3, img=5, bow=4)


def test_belief_plus_uncertainty_is_one_before_and_after_combination():
    torch.manual_seed(0)
    a1 = torch.rand(6, 4) * 5 + 1
    a2 = torch.rand(6, 4) * 5 + 1
    for alpha in (a1, a2, ds_combine(a1, a2)):
        b, u = opinion(alpha)
        assert torch.allclose(b.sum(1) + u, torch.ones(6), atol=1e-6)


def test_worked_three_class_combination():
    # view 1: alpha [3, 1, 1] -> e [2, 0, 0], S 5 -> b1 [0.4, 0, 0], u1 = 3/5 = 0.6
    # view 2: alpha [1, 2, 1] -> e [0, 1, 0], S 4 -> b2 [0, 0.25, 0], u2 = 3/4 = 0.75
    # conflict C = b1_0 b2_1 = 0.1 -> 1 - C = 0.9
    # b = (b1 b2 + b1 u2 + b2 u1) / 0.9 = ([0,0,0] + [0.3,0,0] + [0,0.15,0]) / 0.9 = [1/3, 1/6, 0]
    # u = 0.6 * 0.75 / 0.9 = 0.5       (1/3 + 1/6 + 0 + 1/2 = 1)
    # S = 3 / 0.5 = 6, e = b S = [2, 1, 0], alpha = [3, 2, 1]
    a1 = torch.tensor([[3.0, 1.0, 1.0]])
    a2 = torch.tensor([[1.0, 2.0, 1.0]])
    b1, u1 = opinion(a1)
    assert torch.allclose(b1, torch.tensor([[0.4, 0.0, 0.0]])) and u1.item() == pytest.approx(0.6)
    alpha = ds_combine(a1, a2)
    assert torch.allclose(alpha, torch.tensor([[3.0, 2.0, 1.0]]), atol=1e-5)
    b, u = opinion(alpha)
    assert torch.allclose(b, torch.tensor([[1 / 3, 1 / 6, 0.0]]), atol=1e-6) and u.item() == pytest.approx(0.5)
    # the "logits" are log(alpha): softmax gives the Dirichlet mean alpha / S = [1/2, 1/3, 1/6]
    assert torch.allclose(torch.softmax(alpha.log(), 1), torch.tensor([[0.5, 1 / 3, 1 / 6]]), atol=1e-6)


def test_combination_survives_total_conflict():
    # float32: S = 1e8 + 2 rounds to 1e8 -> b1 = [1, 0, 0], u1 = 3e-8 (b2 mirrored): C = 1, 1 - C = 0 (the
    # original's 0 / 0). Its cancellation-free form u1 + u2 - u1 u2 + sum b1 b2 = 6e-8:
    # b = (b1 u2 + b2 u1) / 6e-8 = [1/2, 1/2, 0], u = 9e-16 / 6e-8 = 1.5e-8, S = 2e8 -> alpha = [1e8 + 1, 1e8 + 1, 1]
    alpha = ds_combine(torch.tensor([[1e8, 1.0, 1.0]]), torch.tensor([[1.0, 1e8, 1.0]]))
    assert alpha[0].tolist() == pytest.approx([1e8 + 1, 1e8 + 1, 1.0], rel=1e-6)


def test_huge_agreeing_evidence_has_no_floor_under_the_uncertainty():
    # both views: evidence e = 1e5 on class 0 of K = 3, S = e + K: b = e / S, u = K / S, no conflict (1 - C = 1)
    # combined: b_0 = (e^2 + 2 e K) / S^2, u = K^2 / S^2 (9e-10, below the former 1e-8 floor), S = S^2 / K
    #   -> evidence b_0 S = (e^2 + 2 e K) / K = (1e10 + 6e5) / 3
    view = torch.tensor([[1e5 + 1, 1.0, 1.0]])
    alpha = ds_combine(view, view)
    assert alpha[0].tolist() == pytest.approx([(1e10 + 6e5) / 3 + 1, 1.0, 1.0], rel=1e-5)


def test_evidential_loss_by_hand():
    # alpha [3, 2, 1], label 0, S = 6
    # digamma-CE = psi(6) - psi(3) = H_5 - H_2 = 1/3 + 1/4 + 1/5 = 47/60 = 0.783333
    # alpha~ = [1, 2, 1]: KL(Dir(1,2,1) || Dir(1,1,1))
    #   = lnG(4) - [lnG(1) + lnG(2) + lnG(1)] - lnG(3) + (2 - 1)(psi(2) - psi(4))
    #   = ln 6 - ln 2 + (H_1 - H_3) = ln 3 - 5/6 = 0.265279
    alpha = torch.tensor([[3.0, 2.0, 1.0]])
    labels = torch.tensor([0])
    kl = math.log(3) - 5 / 6
    assert kl_to_uniform(torch.tensor([[1.0, 2.0, 1.0]])).item() == pytest.approx(kl, abs=1e-5)
    assert kl_to_uniform(torch.ones(1, 3)).item() == pytest.approx(0.0, abs=1e-6)
    assert evidential_loss(alpha, labels, 0.0).item() == pytest.approx(47 / 60, abs=1e-5)
    assert evidential_loss(alpha, labels, 1.0).item() == pytest.approx(47 / 60 + kl, abs=1e-5)  # 1.048612
    assert evidential_loss(alpha, labels, 0.5).item() == pytest.approx(47 / 60 + kl / 2, abs=1e-5)  # 0.915973


def test_annealing_follows_finished_epochs():
    model = build_model("tmc", DIMS, 3, settings("tmc", dropout=0.0, annealing_epochs=10), n_train=5)
    assert model.annealing_coef() == 0.0  # first epoch: official i_epoch = 0
    model.on_epoch_end(5)
    assert model.annealing_coef() == 0.5
    model.on_epoch_end(20)
    assert model.annealing_coef() == 1.0
    assert int(model.state_dict()["epochs_done"]) == 20  # resumes with the right coefficient


def test_tmc_forward_weights_and_loss():
    torch.manual_seed(0)
    model = build_model("tmc", DIMS, 3, settings("tmc", dropout=0.0), n_train=5)
    feats = {"txt": torch.randn(5, 8), "img": torch.randn(5, 3, 5)}
    out = model(feats)
    _, u_txt = opinion(out["txt_alpha"])
    assert torch.allclose(out["weight_txt"], 1 - u_txt)
    assert torch.equal(out["logits"].argmax(1), out["alpha"].argmax(1))
    labels = torch.tensor([0, 1, 2, 0, 1])
    loss = model.loss(out, labels, torch.arange(5))
    expected = sum(evidential_loss(out[k], labels, 0.0) for k in ("txt_alpha", "img_alpha", "alpha"))
    assert loss.item() == pytest.approx(expected.item())
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
