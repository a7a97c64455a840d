"""Optimizers and learning-rate schedules (``train.optimizer``, ``warmup``, ``weight_decay``; docs/training.md).

* ``adam``: ``torch.optim.Adam`` at a constant lr (the original code's optimizer for every model but
  ``bert``, ``concatbert`` and ``mmbt``).
* ``adamw``: ``torch.optim.AdamW`` with a linear warm-up over the ``warmup`` fraction of the
  optimizer steps, then constant.
* ``bertadam``: the original code's optimizer for ``bert``, ``concatbert`` and ``mmbt`` (QMF
  ``train.py``, ``get_optimizer``: ``pytorch_pretrained_bert.BertAdam``, version 0.6.2 as PDF's README
  pins it), re-implemented from its documented behaviour: Adam without bias correction, eps 1e-6
  outside the square root, each parameter's gradient clipped to norm 1 on its own, weight decay added
  to the update (decoupled, scaled by the lr), and the lr of each parameter multiplied by the
  ``warmup_linear`` factor of *that parameter's* step count: linear warm-up over the ``warmup``
  fraction of ``t_total`` steps, then linear decay to 0 at ``t_total``. A parameter without a gradient
  is skipped and its count does not advance (MMBT's frozen BERT layers start their schedule when
  they thaw, as in the original). Weight decay applies to every parameter except biases and
  LayerNorm weights (``NO_DECAY``).

One rule composes every schedule with ReduceLROnPlateau: the lr a step uses = the group's ``lr`` ×
the schedule's factor at that step. ReduceLROnPlateau scales the group's ``lr``; the schedule never
writes it (the warm-up was a ``LambdaLR``, which set lr = initial lr × factor on every warm-up step
and so undid any plateau cut made during the warm-up). BertAdam composed them this way too.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
from torch import nn

# parameter names that get no weight decay under bertadam (QMF train.py get_optimizer, substring match)
NO_DECAY = ("bias", "LayerNorm.bias", "LayerNorm.weight")


def warmup_constant(step: int, warmup_steps: int) -> float:
    """adamw's factor for the optimizer step after ``step`` done steps: (step + 1) / warmup_steps, at most 1."""
    return min(1.0, (step + 1) / warmup_steps)


def warmup_linear(progress: float, warmup: float) -> float:
    """BertAdam's factor at ``progress`` = step / t_total: linear up to 1 at ``warmup``, linear down to 0 at 1."""
    if progress < warmup:
        return progress / warmup
    return max((progress - 1.0) / (warmup - 1.0), 0.0)


class BertAdam(torch.optim.Optimizer):
    """The original's BertAdam (see the module docstring); ``schedule(step)`` is the factor at a parameter's step."""

    def __init__(self, params, lr: float, schedule: Callable[[int], float], weight_decay: float = 0.01):
        defaults = {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-6, "weight_decay": weight_decay, "max_grad_norm": 1.0}
        super().__init__(params, defaults)
        self.schedule = schedule

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                torch.nn.utils.clip_grad_norm_(p, group["max_grad_norm"])  # each parameter on its own
                grad = p.grad
                state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                update = state["exp_avg"] / (state["exp_avg_sq"].sqrt() + group["eps"])
                if group["weight_decay"] > 0:
                    update.add_(p, alpha=group["weight_decay"])
                p.add_(update, alpha=-group["lr"] * self.schedule(state["step"]))
                state["step"] += 1
        return loss


def optimizer_steps(n_micro: int, grad_accum: int, max_epochs: int, partial_accumulation: str) -> int:
    """How many optimizer steps a full run makes (``partial_accumulation``: see ``accumulation_groups``)."""
    if partial_accumulation == "drop":
        return n_micro * max_epochs // grad_accum
    return math.ceil(n_micro / grad_accum) * max_epochs


def accumulation_groups(n_micro: int, grad_accum: int, epoch: int, partial_accumulation: str) -> list[range]:
    """The micro-batches (indices within epoch ``epoch``, 1-based) behind each optimizer step of that epoch.

    ``step``: groups of ``grad_accum`` from the epoch's first micro-batch; a shorter last group is
    stepped too. ``drop`` (the original: QMF train.py counts micro-batches in ``global_step`` over the
    whole run, steps when it is a multiple of ``grad_accum`` and zeroes the gradients at every epoch
    start): the steps fall at multiples of the run-wide count, so an epoch's first group may be short
    (its earlier micro-batches were zeroed at the epoch start) and a partial last group is dropped.
    """
    if partial_accumulation == "step":
        return [range(s, min(s + grad_accum, n_micro)) for s in range(0, n_micro, grad_accum)]
    done = (epoch - 1) * n_micro  # micro-batches of the earlier epochs
    ends = [k + 1 for k in range(n_micro) if (done + k + 1) % grad_accum == 0]
    return [range(start, end) for start, end in zip([0, *ends], ends, strict=False)]


def param_groups(
    model: nn.Module,
    optimizer: str,
    weight_decay: float,
    overrides: dict[str, float],
    lr_factors: dict[str, float] | None = None,
) -> list[dict]:
    """Trainable parameters grouped by lr factor (``lr_factors``, full names; 1 for the others) and weight
    decay: ``overrides`` (full names) first, then under bertadam 0 for ``NO_DECAY`` names, else
    ``weight_decay``. The groups at factor 1 come first (the trainer's lr curve reads the first group)."""
    lr_factors = lr_factors or {}
    unknown = (set(overrides) | set(lr_factors)) - {name for name, _ in model.named_parameters()}
    if unknown:
        raise ValueError(f"weight-decay or lr overrides name no parameter of the model: {', '.join(sorted(unknown))}")

    def decay_of(name: str) -> float:
        if name in overrides:
            return overrides[name]
        if optimizer == "bertadam" and any(nd in name for nd in NO_DECAY):
            return 0.0
        return weight_decay

    groups: dict[tuple[float, float], list] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault((lr_factors.get(name, 1.0), decay_of(name)), []).append(p)
    ordered = sorted(groups.items(), key=lambda item: item[0][0] != 1.0)  # stable: otherwise in model order
    return [{"params": params, "weight_decay": wd, "lr_factor": factor} for (factor, wd), params in ordered]


class Schedule:
    """The lr factor of each optimizer step (``step``: steps done before it) of one run."""

    def __init__(self, optimizer: str, warmup: float, total_steps: int, t_total: float):
        self.optimizer, self.warmup = optimizer, warmup
        self.warmup_steps = max(1, int(warmup * total_steps))
        self.t_total = t_total

    def __call__(self, step: int) -> float:
        if self.optimizer == "adamw":
            return warmup_constant(step, self.warmup_steps)
        if self.optimizer == "bertadam":
            return warmup_linear(step / self.t_total, self.warmup)
        return 1.0


@contextlib.contextmanager
def scaled_lr(opt: torch.optim.Optimizer, factor: float):
    """Each group's lr times ``factor`` for one ``opt.step()``; the group's own lr (ReduceLROnPlateau's) is restored."""
    base = [group["lr"] for group in opt.param_groups]
    for group, lr in zip(opt.param_groups, base, strict=True):
        group["lr"] = lr * factor
    try:
        yield
    finally:
        for group, lr in zip(opt.param_groups, base, strict=True):
            group["lr"] = lr


def make_optimizer(
    model: nn.Module,
    hp,
    overrides: dict[str, float],
    n_train: int,
    n_micro: int,
    device,
    lr_factors: dict[str, float] | None = None,
):
    """The optimizer and the lr schedule of one run; ``hp`` is its RunSettings, ``n_micro`` micro-batches per
    epoch, ``overrides`` / ``lr_factors`` per-parameter weight decays / lr factors (:func:`param_groups`)."""
    groups = param_groups(model, hp.optimizer, hp.weight_decay, overrides, lr_factors)
    for group in groups:
        group["lr"] = hp.lr * group.pop("lr_factor")
    total_steps = optimizer_steps(n_micro, hp.grad_accum, hp.max_epochs, hp.partial_accumulation)
    # the original's t_total (QMF train.py get_optimizer): a float, the partial last groups counted
    t_total = n_train / hp.micro_batch / hp.grad_accum * hp.max_epochs
    if hp.optimizer == "bertadam" and not 0 <= hp.warmup < 1:
        raise ValueError(f"train.warmup {hp.warmup} must be below 1 with optimizer bertadam (its decay starts there)")
    schedule = Schedule(hp.optimizer, hp.warmup, total_steps, t_total)
    fused = device.type == "cuda"  # one kernel per step instead of one per parameter
    if hp.optimizer == "bertadam":
        return BertAdam(groups, lr=hp.lr, schedule=schedule), schedule
    cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=hp.lr, fused=fused), schedule


def optimizer_step(opt: torch.optim.Optimizer, schedule: Schedule, step: int) -> None:
    """One optimizer step at the scheduled lr (BertAdam schedules each parameter itself)."""
    if isinstance(opt, BertAdam):
        opt.step()
        return
    with scaled_lr(opt, schedule(step)):
        opt.step()
