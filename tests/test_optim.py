"""Optimizers, lr schedules and gradient accumulation (pdf_core.optim, pdf_core.train): hand-computed values."""

import numpy as np
import pytest
import torch
from torch import nn

from pdf_core.inputs import SplitInputs
from pdf_core.models.base import FusionModel, InputDims
from pdf_core.optim import (
    BertAdam,
    accumulation_groups,
    make_optimizer,
    optimizer_step,
    optimizer_steps,
    param_groups,
)
from pdf_core.run_model import RunModel
from pdf_core.train import _Run
from tests.conftest import settings

CPU = torch.device("cpu")


def _lrs_used(opt):
    """The lr of group 0 at the moment of every ``opt.step()``."""
    used = []
    opt.register_step_pre_hook(lambda o, args, kwargs: used.append(o.param_groups[0]["lr"]))
    return used


def _one_param_optimizer(**hp):
    model = nn.Linear(1, 1, bias=False)
    hp = settings("latefusion", **hp)
    opt, schedule = make_optimizer(model, hp, {}, n_train=hp.micro_batch * 4, n_micro=4, device=CPU)
    model.weight.grad = torch.ones_like(model.weight)
    return opt, schedule


def test_plateau_cut_during_warmup_holds():
    # 4 micro-batches x 2 epochs, no accumulation: 8 steps; warm-up over half of them: 4 steps
    opt, schedule = _one_param_optimizer(optimizer="adamw", lr=1.0, warmup=0.5, max_epochs=2, grad_accum=1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0, factor=0.5)
    used = _lrs_used(opt)
    for step in range(2):
        optimizer_step(opt, schedule, step)
    plateau.step(1.0)  # the best so far
    plateau.step(0.5)  # worse, patience 0: the lr is halved, in the middle of the warm-up
    for step in range(2, 5):
        optimizer_step(opt, schedule, step)
    # warm-up factors 1/4, 2/4, 3/4, 1, 1; the cut (x 0.5) stays: a LambdaLR warm-up gave 0.75, 1, 1 after it
    assert used == pytest.approx([0.25, 0.5, 0.5 * 0.75, 0.5 * 1.0, 0.5 * 1.0])
    assert opt.param_groups[0]["lr"] == 0.5  # the group keeps the plateau's lr, the schedule only scales steps


def test_adam_lr_is_constant():
    opt, schedule = _one_param_optimizer(optimizer="adam", lr=0.1, max_epochs=2, grad_accum=1)
    used = _lrs_used(opt)
    for step in range(3):
        optimizer_step(opt, schedule, step)
    assert used == [0.1, 0.1, 0.1] and isinstance(opt, torch.optim.Adam)


def test_bertadam_schedule_warms_up_then_decays_to_zero():
    # the original's t_total = n_train / micro_batch / grad_accum * max_epochs = 20 / 2 / 1 * 1 = 10 steps
    model = nn.Linear(1, 1)
    hp = settings("bert", optimizer="bertadam", lr=1.0, warmup=0.2, micro_batch=2, grad_accum=1, max_epochs=1)
    opt, schedule = make_optimizer(model, hp, {}, n_train=20, n_micro=10, device=CPU)
    assert isinstance(opt, BertAdam)
    # progress k/10: below 0.2 -> k/10/0.2; from there (1 - k/10) / 0.8, down to 0 at step 10 and after
    expected = [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0, 0.0]
    assert [schedule(k) for k in range(12)] == pytest.approx(expected)


def test_bertadam_step_matches_the_hand_computed_update():
    p = nn.Parameter(torch.tensor([2.0], dtype=torch.float64))
    q = nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = BertAdam([p, q], lr=0.1, schedule=lambda step: 1.0, weight_decay=0.01)
    p.grad = torch.tensor([0.5], dtype=torch.float64)  # norm below 1: not clipped
    q.grad = torch.tensor([3.0], dtype=torch.float64)  # norm 3: clipped to 1 (torch's clip: x 1 / (3 + 1e-6))
    opt.step()
    # no bias correction: m = 0.1 g, v = 0.001 g^2; update = m / (sqrt(v) + 1e-6) + 0.01 p; p -= lr * update
    m, v = 0.1 * 0.5, 0.001 * 0.5**2
    assert p.item() == pytest.approx(2.0 - 0.1 * (m / (v**0.5 + 1e-6) + 0.01 * 2.0), rel=1e-12)
    g = 3.0 / (3.0 + 1e-6)
    m, v = 0.1 * g, 0.001 * g**2
    assert q.item() == pytest.approx(1.0 - 0.1 * (m / (v**0.5 + 1e-6) + 0.01 * 1.0), rel=1e-12)


def test_bertadam_counts_steps_per_parameter():
    """A parameter without a gradient is skipped; its schedule starts at its own first step (factor 0 here)."""
    a, b = nn.Parameter(torch.ones(1)), nn.Parameter(torch.ones(1))
    opt = BertAdam([a, b], lr=1.0, schedule=lambda step: float(step), weight_decay=0.0)
    a.grad = torch.ones(1)
    opt.step()  # a: factor 0 (its step 0); b: no gradient, skipped
    assert a.item() == 1.0 and b.item() == 1.0 and "step" not in opt.state[b]
    b.grad = torch.ones(1)
    opt.step()  # a: its step 1 (factor 1) moves it; b: its step 0 (factor 0) does not
    assert a.item() < 1.0 and b.item() == 1.0
    assert opt.state[a]["step"] == 2 and opt.state[b]["step"] == 1


class _Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(2, 2)
        self.LayerNorm = nn.LayerNorm(2)  # BERT's attribute name, which the original's no-decay list matches
        self.emb = nn.Embedding(3, 2)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)


def _decays(groups, model):
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: g["weight_decay"] for g in groups for p in g["params"]}


def test_bertadam_decays_all_but_biases_and_layernorm():
    model = _Named()
    assert _decays(param_groups(model, "bertadam", 0.01, {}), model) == {
        "dense.weight": 0.01,
        "dense.bias": 0.0,
        "LayerNorm.weight": 0.0,
        "LayerNorm.bias": 0.0,
        "emb.weight": 0.01,
    }  # frozen parameters are not given to the optimizer
    # adam/adamw: one decay for all; a model's overrides win in every case
    decays = _decays(param_groups(model, "adam", 0.0, {"dense.weight": 1.0}), model)
    assert decays == {"dense.weight": 1.0, "dense.bias": 0.0, "LayerNorm.weight": 0.0, "LayerNorm.bias": 0.0} | {
        "emb.weight": 0.0
    }
    with pytest.raises(ValueError, match="name no parameter of the model: dense.wieght"):
        param_groups(model, "adam", 0.0, {"dense.wieght": 1.0})


def test_lr_factor_scales_only_the_named_parameters():
    # Adam's first step moves a weight by lr * g / (|g| + eps) = lr (g = 1): 1.0 for txt, 0.1 for img
    model = nn.ModuleDict({"img": nn.Linear(1, 1, bias=False), "txt": nn.Linear(1, 1, bias=False)})
    hp = settings("latefusion", optimizer="adam", lr=1.0, weight_decay=0.0)
    opt, schedule = make_optimizer(model, hp, {}, hp.micro_batch, 1, CPU, lr_factors={"img.weight": 0.1})
    assert [g["lr"] for g in opt.param_groups] == [1.0, 0.1]  # the configured lr first, whatever the model order
    before = {name: p.item() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer_step(opt, schedule, 0)
    moved = {name: before[name] - p.item() for name, p in model.named_parameters()}
    assert moved == pytest.approx({"img.weight": 0.1, "txt.weight": 1.0}, rel=1e-6)


def test_late_fusion_image_head_trains_at_img_lr_factor(tmp_path):
    from pdf_core.models import build_model

    hp = settings("qmf", lr=0.01, img_lr_factor=0.25)
    dims = InputDims(txt=4, img_regions=2, img=3, bow=1)
    fusion = build_model("qmf", dims, 2, hp, 8)
    inputs = SplitInputs({"txt": np.ones((8, 4), np.float32)}, np.zeros(8, np.int64))
    run = _Run(RunModel(fusion), CPU, {"model": "qmf", "hp": hp, "seed": 0, "n_classes": 2}, inputs, tmp_path)
    lrs = {id(p): g["lr"] for g in run.opt.param_groups for p in g["params"]}
    image = {id(p) for p in fusion.img_head.parameters()}
    assert {lrs[i] for i in image} == {0.0025}
    assert {lr for i, lr in lrs.items() if i not in image} == {0.01}


def test_accumulation_groups_by_hand():
    # 5 micro-batches an epoch, groups of 2
    assert accumulation_groups(5, 2, 1, "step") == [range(0, 2), range(2, 4), range(4, 5)]
    assert accumulation_groups(5, 2, 2, "step") == [range(0, 2), range(2, 4), range(4, 5)]
    # drop: steps at run-wide micro-batch counts 2, 4 | 6, 8, 10 | 12, 14: epoch 1 drops its 5th
    # micro-batch; epoch 2's first step has its first micro-batch only (count 6), and it drops nothing
    assert accumulation_groups(5, 2, 1, "drop") == [range(0, 2), range(2, 4)]
    assert accumulation_groups(5, 2, 2, "drop") == [range(0, 1), range(1, 3), range(3, 5)]
    assert accumulation_groups(5, 2, 3, "drop") == [range(0, 2), range(2, 4)]
    assert optimizer_steps(5, 2, 3, "drop") == 2 + 3 + 2
    assert optimizer_steps(5, 2, 3, "step") == 3 * 3
    assert accumulation_groups(3, 40, 1, "drop") == []  # fewer micro-batches than one group: no step


class _IndexProbe(FusionModel):
    """Its weight's gradient is sum(2^row) over the training rows in the optimizer step's micro-batches."""

    inputs = ("txt",)

    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.w = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, feats):
        return {"logits": feats["txt"] * self.w}

    def loss(self, out, labels, index):
        return (self.w * (2.0 ** index.double())).sum()


@pytest.mark.parametrize("mode", ["step", "drop"])
def test_trainer_steps_the_planned_micro_batches(tmp_path, mode):
    n, micro, accum, seed = 10, 2, 2, 7  # 5 micro-batches an epoch
    hp = settings("latefusion", micro_batch=micro, grad_accum=accum, max_epochs=2, partial_accumulation=mode)
    inputs = SplitInputs({"txt": np.ones((n, 2), np.float32)}, np.zeros(n, np.int64))
    fusion = _IndexProbe(InputDims(txt=2, img_regions=1, img=1, bow=1), 2, hp, n)
    identity = {"model": "probe", "hp": hp, "seed": seed, "n_classes": 2}
    run = _Run(RunModel(fusion), CPU, identity, inputs, tmp_path)
    stepped = []
    run.opt.register_step_pre_hook(lambda o, a, k: stepped.append(round(fusion.w.grad.item() * accum)))
    for epoch in (1, 2):
        run.train_epoch(epoch)
    expected = []
    plan = {"step": [[(0, 1), (2, 3), (4,)]] * 2, "drop": [[(0, 1), (2, 3)], [(0,), (1, 2), (3, 4)]]}[mode]
    for epoch, groups in zip((1, 2), plan, strict=True):
        order = np.random.default_rng([seed, epoch]).permutation(n)  # the trainer's order of that epoch
        micro_batches = [order[i : i + micro] for i in range(0, n, micro)]
        expected += [sum(2 ** int(row) for k in group for row in micro_batches[k]) for group in groups]
    assert stepped == expected
    assert run.state["step"] == len(expected) == {"step": 6, "drop": 5}[mode]


def test_resume_continues_bertadam_drop_and_plateau_exactly(tmp_path):
    """An epoch-end restart from last.pt (per-parameter BertAdam steps, plateau, dropped groups) equals no restart."""
    from pdf_core.models import build_model

    n, seed = 40, 3
    hp = settings(
        "latefusion",
        optimizer="bertadam",
        weight_decay=0.01,
        lr=0.01,
        micro_batch=8,
        grad_accum=2,
        max_epochs=3,
        partial_accumulation="drop",
        lr_patience=0,
    )
    rng = np.random.default_rng(0)
    inputs = SplitInputs(
        {"txt": rng.normal(size=(n, 6)).astype(np.float32), "img": rng.normal(size=(n, 2, 3)).astype(np.float32)},
        rng.integers(0, 3, n),
    )
    dims = InputDims(txt=6, img_regions=2, img=3, bow=1)

    def new_run(run_dir):
        torch.manual_seed(seed)
        fusion = build_model("latefusion", dims, 3, hp, n)
        return _Run(
            RunModel(fusion), CPU, {"model": "latefusion", "hp": hp, "seed": seed, "n_classes": 3}, inputs, run_dir
        )

    dev_accs = {1: 0.5, 2: 0.4, 3: 0.3}  # epochs 2 and 3 are worse: patience 0 halves the lr twice
    straight = new_run(tmp_path / "straight")
    for epoch in (1, 2, 3):
        straight.end_epoch(epoch, straight.train_epoch(epoch), {"dev/acc": dev_accs[epoch]}, 0.0)
    first = new_run(tmp_path / "restarted")
    first.end_epoch(1, first.train_epoch(1), {"dev/acc": dev_accs[1]}, 0.0)
    restarted = new_run(tmp_path / "restarted")  # a new process: fresh model and optimizer, then last.pt
    restarted.resume()
    for epoch in (2, 3):
        restarted.end_epoch(epoch, restarted.train_epoch(epoch), {"dev/acc": dev_accs[epoch]}, 0.0)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, restarted.model.state_dict()[key]), key
    assert straight.history == restarted.history and straight.state == restarted.state
    # 5 micro-batches an epoch in groups of 2, run-wide: 2 + 3 + 2 steps; two plateau cuts
    assert straight.state["step"] == 7 and straight.opt.param_groups[0]["lr"] == pytest.approx(0.01 / 4)
