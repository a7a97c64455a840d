"""The trainer: one (dataset, model, seed) run.

Micro-batch x gradient accumulation (effective batch = micro_batch * grad_accum), Adam or AdamW
with linear warm-up, ReduceLROnPlateau on dev accuracy, best-dev checkpoint, max epochs and
optional early-stopping patience. After every epoch the full state (model incl. QMF history,
optimizer, schedulers, RNG, epoch, step) goes to ``last.pt``, so a killed run resumes where it was;
``last.pt`` is only resumed when its config fingerprint matches this run's.

Outputs in the run directory: ``model.pt`` (best dev), ``train_log.jsonl``, ``dev_metrics.json``.
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

from pdf_core.faults import failpoint
from pdf_core.device import pick_device
from pdf_core.inputs import RunModel, SplitInputs, build_run_model
from pdf_core.io_utils import atomic_path, remove_stale_temps, write_json, write_text
from pdf_core.seeding import rng_state, seed_everything, set_rng_state

log = logging.getLogger(__name__)


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
        raise ValueError(f"{path}: checkpoint was made with a different model config "
                         f"(fingerprint {ckpt.get('fingerprint')} != {expected_fingerprint}); "
                         f"delete it or rerun training for this config")
    return ckpt


def autocast(device: torch.device, precision: str):
    """bf16 autocast for the fast path (`train.precision: bf16`); a no-op context in fp32."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@torch.no_grad()
def predict(model: RunModel, inputs: SplitInputs, device: torch.device, batch_size: int = 512,
            precision: str = "fp32") -> dict[str, np.ndarray]:
    """Logits and fusion weights of every sample, in large no-grad batches."""
    model.eval()
    parts: dict[str, list] = {}
    for start in range(0, len(inputs), batch_size):
        idx = np.arange(start, min(start + batch_size, len(inputs)))
        with autocast(device, precision):
            out = model(inputs.batch(idx, device))
        for key in ("logits", "weight_txt", "weight_img"):
            if key in out:
                parts.setdefault(key, []).append(out[key].float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def _make_optimizer(model: RunModel, hp: dict, total_steps: int, device: torch.device):
    params = [p for p in model.parameters() if p.requires_grad]
    fused = device.type == "cuda"  # one kernel per step instead of one per parameter
    if hp["optimizer"] == "adamw":
        opt = torch.optim.AdamW(params, lr=hp["lr"], weight_decay=hp["weight_decay"], fused=fused)
        warmup_steps = max(1, int(hp["warmup"] * total_steps))
        warm = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup_steps))
    else:
        opt = torch.optim.Adam(params, lr=hp["lr"], weight_decay=hp["weight_decay"], fused=fused)
        warmup_steps, warm = 0, None
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=hp["lr_patience"],
                                                         factor=hp["lr_factor"])
    return opt, warm, warmup_steps, plateau


def train_run(model_name: str, hp: dict, ds: dict, features_cfg: dict, n_classes: int, seed: int,
              train_inputs: SplitInputs, dev_inputs: SplitInputs, run_dir: Path) -> dict:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(hp["device"])
    seed_everything(seed)
    model = build_run_model(model_name, hp, ds, features_cfg, n_classes, train_inputs).to(device)
    # the compiled wrapper shares parameters with `model`, which stays the object we checkpoint
    forward = torch.compile(model) if hp["compile"] else model
    n_train, micro, accum = len(train_inputs), hp["micro_batch"], hp["grad_accum"]
    steps_per_epoch = math.ceil(math.ceil(n_train / micro) / accum)
    opt, warm, warmup_steps, plateau = _make_optimizer(model, hp, steps_per_epoch * hp["max_epochs"], device)
    fp = fingerprint({"model": model_name, "hp": hp, "seed": seed, "n_train": n_train, "n_classes": n_classes})

    state = {"epoch": 0, "step": 0, "best_acc": -1.0, "best_epoch": 0, "bad_epochs": 0, "stopped": False}
    last_path, best_path, log_path = run_dir / "last.pt", run_dir / "model.pt", run_dir / "train_log.jsonl"
    remove_stale_temps(run_dir, ("last.pt", "model.pt", "train_log.jsonl", "dev_metrics.json"))
    log_lines: list[str] = []
    if last_path.exists():
        try:
            ckpt = load_checkpoint(last_path, fp)
        except ValueError as exc:
            log.warning("%s — starting from scratch", exc)
        else:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            plateau.load_state_dict(ckpt["plateau"])
            if warm is not None:
                warm.load_state_dict(ckpt["warmup"])
            set_rng_state(ckpt["rng"])
            state = ckpt["state"]
            log_lines = ckpt["log_lines"]
            log.info("resumed %s from epoch %d (step %d)", run_dir, state["epoch"], state["step"])

    while state["epoch"] < hp["max_epochs"] and not state["stopped"]:
        epoch = state["epoch"] + 1
        model.train()
        t0 = time.time()
        # a fresh generator per (seed, epoch): the order is reproducible and needs no saved state
        order = np.random.default_rng([seed, epoch]).permutation(n_train)
        micro_batches = [order[i:i + micro] for i in range(0, n_train, micro)]
        total_loss = 0.0
        opt.zero_grad(set_to_none=True)
        for k, idx in enumerate(tqdm(micro_batches, desc=f"{model_name} s{seed} epoch {epoch}", unit="mb",
                                     mininterval=5, leave=False)):
            failpoint("micro_batch")  # test hook (pdf_core.faults): kill mid-epoch
            batch = train_inputs.batch(idx, device)
            with autocast(device, hp["precision"]):
                out = forward(batch)
                loss = model.fusion.loss(out, batch["labels"], batch["index"])
            if not torch.isfinite(loss):
                raise NonFiniteLoss(
                    f"non-finite loss {loss.item()} at epoch {epoch}, optimizer step {state['step']}, "
                    f"micro-batch {k} (training-set rows {idx[:8].tolist()}...); last good checkpoint: "
                    f"{last_path if last_path.exists() else 'none'}. Lower train.lr or check the inputs")
            (loss / accum).backward()
            total_loss += loss.item() * len(idx)
            if (k + 1) % accum == 0 or k + 1 == len(micro_batches):
                opt.step()
                opt.zero_grad(set_to_none=True)
                state["step"] += 1
                if warm is not None and state["step"] <= warmup_steps:
                    warm.step()
        model.fusion.on_epoch_end(epoch)
        dev = predict(model, dev_inputs, device, precision=hp["precision"])
        dev_acc = float((dev["logits"].argmax(1) == dev_inputs.labels).mean())
        plateau.step(dev_acc)
        state["epoch"] = epoch
        improved = dev_acc > state["best_acc"]
        if improved:
            state.update(best_acc=dev_acc, best_epoch=epoch, bad_epochs=0)
            save_checkpoint(best_path, {"fingerprint": fp, "model": model.state_dict(), "model_name": model_name,
                                        "hp": hp, "n_classes": n_classes, "n_train": n_train, "epoch": epoch})
        else:
            state["bad_epochs"] += 1
        log_lines.append(json.dumps({"epoch": epoch, "train_loss": total_loss / n_train, "dev_acc": dev_acc,
                                     "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 3)}))
        log.info("epoch %d: train loss %.4f, dev acc %.4f%s", epoch, total_loss / n_train, dev_acc,
                 " (best)" if improved else "")
        state["stopped"] = hp["patience"] is not None and state["bad_epochs"] >= hp["patience"]
        save_checkpoint(last_path, {"fingerprint": fp, "model": model.state_dict(), "optimizer": opt.state_dict(),
                                    "plateau": plateau.state_dict(),
                                    "warmup": warm.state_dict() if warm is not None else None,
                                    "rng": rng_state(), "state": state, "log_lines": log_lines})
        failpoint("epoch_end")  # test hook: kill right after the epoch's checkpoint
        if state["stopped"]:
            log.info("early stop: %d epochs without dev improvement", state["bad_epochs"])
            break

    write_text(log_path, "\n".join(log_lines) + "\n")
    metrics = {"best_dev_acc": state["best_acc"], "best_epoch": state["best_epoch"], "epochs_run": state["epoch"]}
    write_json(run_dir / "dev_metrics.json", metrics)
    last_path.unlink(missing_ok=True)  # the run is complete; nothing left to resume
    return metrics
