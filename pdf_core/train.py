"""The trainer: one (dataset, model, seed) run.

Micro-batch x gradient accumulation (effective batch = micro_batch * grad_accum; a partial last
group of an epoch stepped or dropped, ``partial_accumulation``), the optimizer and its lr schedule
(:mod:`pdf_core.optim`: Adam, AdamW with warm-up, the original's BertAdam), ReduceLROnPlateau on dev
accuracy composed with that schedule, best-dev checkpoint, max epochs and optional early-stopping
patience (``null``: best dev over all epochs). After every epoch the full state (model incl. QMF history,
optimizer, schedulers, RNG, epoch, step) goes to ``last.pt``, so a killed run resumes where it was;
``last.pt`` is only resumed when its config fingerprint matches this run's.

With train-time corruption (``train.noise``) the training inputs are a :class:`pdf_core.inputs.NoisyTrainInputs`:
each epoch, each sample comes from the clean split or from one corrupted version, drawn per (seed, epoch).

Outputs: ``model.pt`` (best dev) and ``dev_metrics.json`` in the run directory; the per-epoch curves
(train loss, dev accuracy, learning rate, mean dev fusion weights) in the curves directory
(:mod:`pdf_core.curves`, DVCLive's format).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pdf_core.curves import write_curves
from pdf_core.device import pick_device, place_model
from pdf_core.faults import failpoint
from pdf_core.inputs import SplitInputs, on_device_if_it_fits
from pdf_core.io_utils import atomic_path, remove_stale_temps, write_json
from pdf_core.optim import accumulation_groups, make_optimizer, optimizer_step
from pdf_core.run_model import RunModel, build_run_model
from pdf_core.seeding import rng_state, seed_everything, set_rng_state
from pdf_core.settings import RunSettings

log = logging.getLogger(__name__)

# part of every checkpoint's fingerprint: a last.pt of an older layout is not resumed (2: "history" rows)
CHECKPOINT_LAYOUT = 2


class NonFiniteLoss(RuntimeError):
    """The loss became NaN/inf; the message names the step, the batch and the last good checkpoint."""


def fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_checkpoint(path: Path, payload: dict) -> None:
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, expected_fingerprint: str) -> dict:
    """Load with ``weights_only=True``; a checkpoint of another config is refused, never used silently."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("fingerprint") != expected_fingerprint:
        raise ValueError(
            f"{path}: checkpoint was made with a different model config "
            f"(fingerprint {ckpt.get('fingerprint')} != {expected_fingerprint}); "
            f"delete it or rerun training for this config"
        )
    return ckpt


def autocast(device: torch.device, precision: str):
    """bf16 autocast for the fast path (`train.precision: bf16`); a no-op context in fp32."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


# what predict() keeps of a model's outputs: late-fusion models also return each head's own logits
PREDICTED = ("logits", "txt_logits", "img_logits", "weight_txt", "weight_img")


@torch.no_grad()
def predict(
    model: RunModel, inputs: SplitInputs, device: torch.device, batch_size: int = 512, precision: str = "fp32"
) -> dict[str, np.ndarray]:
    """Logits, per-modality head logits (fusion models) and fusion weights of every sample, in no-grad batches."""
    model.eval()
    parts: dict[str, list] = {}
    for start in range(0, len(inputs), batch_size):
        idx = np.arange(start, min(start + batch_size, len(inputs)))
        with autocast(device, precision):
            out = model(inputs.batch(idx, device))
        for key in PREDICTED:
            if key in out:
                parts.setdefault(key, []).append(out[key].float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


class _Run:
    """The moving parts of one training run: model, optimizer and schedulers, their state, the history."""

    def __init__(self, model: RunModel, device: torch.device, identity: dict, train_inputs: SplitInputs, run_dir: Path):
        """``identity``: the model name, settings, seed and class count that make this run this run."""
        self.model, self.device, self.train_inputs, self.n_train = model, device, train_inputs, len(train_inputs)
        self.model_name, self.seed, self.n_classes = identity["model"], identity["seed"], identity["n_classes"]
        self.hp = hp = identity["hp"]
        # the compiled wrapper shares parameters with `model`, which stays the object we checkpoint
        self.forward = torch.compile(self.model) if hp.compile else self.model
        self.n_micro = math.ceil(self.n_train / hp.micro_batch)
        # the fusion model may set its own weight decay on some parameters (PDF's confidence nets)
        overrides = {f"fusion.{name}": wd for name, wd in model.fusion.weight_decay_overrides().items()}
        # and its own lr factor on some (a late-fusion model's image head: train.img_lr_factor)
        lr_factors = {f"fusion.{name}": factor for name, factor in model.fusion.lr_factors().items()}
        self.opt, self.schedule = make_optimizer(
            self.model, hp, overrides, self.n_train, self.n_micro, device, lr_factors=lr_factors
        )
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.opt, mode="max", patience=hp.lr_patience, factor=hp.lr_factor
        )
        self.fingerprint = fingerprint(
            dict(identity, hp=hp.as_dict(), n_train=self.n_train, checkpoint_layout=CHECKPOINT_LAYOUT)
        )
        self.state = {"epoch": 0, "step": 0, "best_acc": -1.0, "best_epoch": 0, "bad_epochs": 0, "stopped": False}
        self.history: list[dict] = []  # one row per epoch, the training curves (pdf_core.curves)
        self.last_path, self.best_path = run_dir / "last.pt", run_dir / "model.pt"

    def resume(self) -> None:
        """Continue from ``last.pt`` when it belongs to this exact run (a killed job's restart)."""
        if not self.last_path.exists():
            return
        try:
            ckpt = load_checkpoint(self.last_path, self.fingerprint)
        except ValueError as exc:
            log.warning("%s — starting from scratch", exc)
            return
        if ckpt["state"]["best_epoch"] > 0 and not self.best_path.exists():
            # Snakemake deletes an incomplete job's outputs before rerunning it, model.pt included: the
            # best weights so far are gone, and a resumed run would end without them
            log.warning(
                "%s is missing (best epoch %d) — starting from scratch", self.best_path, ckpt["state"]["best_epoch"]
            )
            return
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.plateau.load_state_dict(ckpt["plateau"])
        set_rng_state(ckpt["rng"])
        self.state, self.history = ckpt["state"], ckpt["history"]
        log.info("resumed %s from epoch %d (step %d)", self.last_path.parent, self.state["epoch"], self.state["step"])

    def train_epoch(self, epoch: int) -> float:
        """One pass over the training set in micro-batches with gradient accumulation; the mean loss."""
        hp, model = self.hp, self.model
        model.train()
        # a fresh generator per (seed, epoch): the order is reproducible and needs no saved state
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n_train)
        # with train-time corruption, the epoch's draw of which rows come corrupted (pdf_core.inputs)
        inputs = self.train_inputs.for_epoch(self.seed, epoch)
        micro, accum = hp.micro_batch, hp.grad_accum
        micro_batches = [order[i : i + micro] for i in range(0, self.n_train, micro)]
        step_after = {group[-1] for group in accumulation_groups(self.n_micro, accum, epoch, hp.partial_accumulation)}
        total_loss = 0.0
        self.opt.zero_grad(set_to_none=True)  # a group left over from the last epoch is dropped here
        for k, idx in enumerate(
            tqdm(
                micro_batches,
                desc=f"{self.model_name} s{self.seed} epoch {epoch}",
                unit="mb",
                mininterval=5,
                leave=False,
            )
        ):
            failpoint("micro_batch")  # test hook (pdf_core.faults): kill mid-epoch
            batch = inputs.batch(idx, self.device)
            with autocast(self.device, hp.precision):
                out = self.forward(batch)
                loss = model.fusion.loss(out, batch["labels"], batch["index"])
            if not torch.isfinite(loss):
                raise NonFiniteLoss(
                    f"non-finite loss {loss.item()} at epoch {epoch}, optimizer step {self.state['step']}, "
                    f"micro-batch {k} (training-set rows {idx[:8].tolist()}...); last good checkpoint: "
                    f"{self.last_path if self.last_path.exists() else 'none'}. Lower train.lr or check the inputs"
                )
            (loss / accum).backward()
            total_loss += loss.item() * len(idx)
            if k in step_after:
                optimizer_step(self.opt, self.schedule, self.state["step"])
                self.opt.zero_grad(set_to_none=True)
                self.state["step"] += 1
        model.fusion.on_epoch_end(epoch)
        return total_loss / self.n_train

    def end_epoch(self, epoch: int, train_loss: float, dev: dict[str, float], seconds: float) -> None:
        """Schedulers, best-dev checkpoint, early-stop bookkeeping, the history row and ``last.pt``.

        ``dev``: the epoch's dev metrics by curve name (``dev/acc``, and ``dev/weight_*`` for fusion models).
        """
        state, dev_acc = self.state, dev["dev/acc"]
        self.plateau.step(dev_acc)
        state["epoch"] = epoch
        improved = dev_acc > state["best_acc"]
        if improved:
            state.update(best_acc=dev_acc, best_epoch=epoch, bad_epochs=0)
            save_checkpoint(
                self.best_path,
                {
                    "fingerprint": self.fingerprint,
                    "model": self.model.state_dict(),
                    "model_name": self.model_name,
                    "hp": self.hp.as_dict(),
                    "n_classes": self.n_classes,
                    "n_train": self.n_train,
                    "epoch": epoch,
                },
            )
        else:
            state["bad_epochs"] += 1
        # wall time goes to the log only: the curves must be the same bytes after a resume
        self.history.append(
            {
                "epoch": epoch,
                "train/loss": train_loss,
                **dev,
                # the lr of the next step: ReduceLROnPlateau's lr times the schedule's factor
                "lr": self.opt.param_groups[0]["lr"] * self.schedule(self.state["step"]),
            }
        )
        log.info(
            "epoch %d: train loss %.4f, dev acc %.4f%s, %.1f s",
            epoch,
            train_loss,
            dev_acc,
            " (best)" if improved else "",
            seconds,
            extra={"epoch_seconds": seconds},  # for a logging handler that times epochs (bench/trainer_run.py)
        )
        patience = self.hp.patience
        state["stopped"] = patience is not None and state["bad_epochs"] >= patience
        save_checkpoint(
            self.last_path,
            {
                "fingerprint": self.fingerprint,
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "plateau": self.plateau.state_dict(),
                "rng": rng_state(),
                "state": state,
                "history": self.history,
            },
        )


def train_run(
    model_name: str,
    hp: RunSettings,
    ds: dict,
    features_cfg: dict,
    n_classes: int,
    seed: int,
    train_inputs: SplitInputs,
    dev_inputs: SplitInputs,
    run_dir: Path,
    curves_dir: Path | None,
) -> dict:
    """Train until max epochs or early stop; write ``model.pt`` and ``dev_metrics.json`` to ``run_dir``, the
    training curves to ``curves_dir`` (None: none, as in the GPU benchmark, whose machine lacks DVCLive)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log.info("%s seed %d settings: %s", model_name, seed, hp.as_dict())
    device = pick_device(hp.device)
    seed_everything(seed, hp.deterministic)  # before the model is built: its initial weights come from this seed
    model = place_model(build_run_model(model_name, hp, ds, features_cfg, n_classes, train_inputs), device)
    identity = {"model": model_name, "hp": hp, "seed": seed, "n_classes": n_classes}
    run = _Run(model, device, identity, on_device_if_it_fits(train_inputs, device), run_dir)
    remove_stale_temps(run_dir, ("last.pt", "model.pt", "dev_metrics.json"))
    if curves_dir is not None:
        curves_dir = Path(curves_dir)
        remove_stale_temps(curves_dir.parent, (curves_dir.name,))
    run.resume()
    while run.state["epoch"] < hp.max_epochs and not run.state["stopped"]:
        epoch, t0 = run.state["epoch"] + 1, time.time()
        train_loss = run.train_epoch(epoch)
        dev = predict(run.model, dev_inputs, run.device, precision=hp.precision)
        dev_metrics = {"dev/acc": float((dev["logits"].argmax(1) == dev_inputs.labels).mean())}
        for weight in ("weight_txt", "weight_img"):  # fusion models only
            if weight in dev:
                dev_metrics[f"dev/{weight}"] = float(dev[weight].mean())
        run.end_epoch(epoch, train_loss, dev_metrics, time.time() - t0)
        failpoint("epoch_end")  # test hook: kill right after the epoch's checkpoint
    if run.state["stopped"]:
        log.info("early stop: %d epochs without dev improvement", run.state["bad_epochs"])

    if curves_dir is not None:
        write_curves(curves_dir, run.history)
    state = run.state
    metrics = {"best_dev_acc": state["best_acc"], "best_epoch": state["best_epoch"], "epochs_run": state["epoch"]}
    write_json(run_dir / "dev_metrics.json", metrics)
    run.last_path.unlink(missing_ok=True)  # the run is complete; nothing left to resume
    return metrics
