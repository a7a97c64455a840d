"""Training and evaluation throughput: the original recipe against the project's fast path, in one run.

    python bench/train_throughput.py [--device cuda|cpu] [--tiny] [--steps 40] [--warmup-steps 5]
        [--fast-micro-batch 256] [--compile] [--workers 12] [--json OUT]

The model is the project's own (``pdf_core.run_model.build_run_model``: TextEncoder + ImageEncoder +
``qmf``) at paper size (BERT-base, ResNet-152, 48 tokens, 101 classes, 224 crops, 3 regions) with
random weights (bench/paper_shapes.py), or tiny shapes with ``--tiny``. Recipes:

* ``original`` — as the original code ran it: fp32, micro-batch 16, every sample's JPEG decoded with
  PIL and transformed (Resize 256, CenterCrop 224, ToTensor, Normalize) in a torch DataLoader with
  ``--workers`` processes (the original's 12), cudnn deterministic and no benchmark, BERT's eager
  attention, per-parameter Adam. The JPEGs are held in memory (the original read them from disk).
* ``fast`` — the project's finetune path: the uint8 store moved to the GPU once
  (``on_device_if_it_fits``) and gathered there, crop + normalisation on the device, channels-last,
  bf16 autocast (fp32 on a CPU), SDPA attention, cudnn benchmark, the trainer's optimizer (fused Adam on CUDA),
  ``--fast-micro-batch`` samples per micro-batch; ``--compile`` adds ``fast_compiled``
  (``torch.compile`` of the model, as ``train.compile: true``).

Both accumulate gradients to the paper's effective batch of 640 (``--effective-batch``), so the
optimizer steps as often per sample as in a real run. Each recipe runs ``--warmup-steps``
micro-batches (one optimizer step included; compile happens here) and then ``--steps`` timed ones.
Evaluation: no-grad forward, the original recipe at micro-batch 16 through the same DataLoader, the
fast one as ``pdf_core.train.predict`` does (batches of 512, bf16, logits copied to the host).

Per-step breakdown (ms per micro-batch): data (batch ready on the device), forward (incl. loss),
backward, optimizer; on a GPU from CUDA events recorded between the phases (no synchronisation
inside the loop, so the phases partition the GPU timeline), on a CPU from the wall clock. The JSON
(``--json``) is rewritten after every recipe, so a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import paper_shapes
import torch
from torch.utils.data import DataLoader, Dataset

from pdf_core.device import pick_device, place_model
from pdf_core.inputs import on_device_if_it_fits
from pdf_core.io_utils import write_json
from pdf_core.optim import make_optimizer
from pdf_core.seeding import seed_everything
from pdf_core.train import autocast

ORIGINAL_MICRO_BATCH = 16
EVAL_BATCH = 512  # pdf_core.train.predict's default


class JpegDataset(Dataset):
    """The original data path: one sample = token ids + a JPEG decoded and transformed with PIL."""

    def __init__(self, jpegs: list[bytes], inputs, image_size: int, crop_size: int, mean, std):
        from torchvision import transforms

        self.jpegs, self.inputs = jpegs, inputs
        self.transform = transforms.Compose(
            [
                transforms.Resize(image_size),
                transforms.CenterCrop(crop_size),
                transforms.ToTensor(),
                transforms.Normalize(mean=mean, std=std),
            ]
        )

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int):
        import io

        from PIL import Image

        image = Image.open(io.BytesIO(self.jpegs[i % len(self.jpegs)])).convert("RGB")
        arrays = self.inputs.arrays
        return (
            torch.from_numpy(arrays["input_ids"][i].astype(np.int64)),
            torch.from_numpy(arrays["attention_mask"][i].astype(np.int64)),
            self.transform(image),
            int(self.inputs.labels[i]),
            i,
        )


class PhaseClock:
    """Time per named phase: CUDA events on a GPU (recorded in the stream, read once at the end)."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.marks: list = []

    def _now(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def start(self) -> None:
        self.marks = [("start", self._now())]

    def mark(self, phase: str) -> None:
        self.marks.append((phase, self._now()))

    def seconds(self) -> dict[str, float]:
        if self.cuda:
            torch.cuda.synchronize()
        out: dict[str, float] = {}
        for (_, a), (phase, b) in zip(self.marks, self.marks[1:], strict=False):
            out[phase] = out.get(phase, 0.0) + (a.elapsed_time(b) / 1000 if self.cuda else b - a)
        return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _end_warmup(device: torch.device, clock: PhaseClock, t_start: float) -> tuple[float, float]:
    """Close the warm-up (its queued GPU work included): its seconds, and the start of the timed steps."""
    _sync(device)
    now = time.perf_counter()
    clock.start()
    return now - t_start, now


def set_backend(recipe: str, device: torch.device) -> dict:
    """cudnn/TF32 flags of a recipe; the original set only deterministic/benchmark (framework defaults otherwise)."""
    fast = recipe != "original"
    torch.backends.cudnn.deterministic = not fast
    torch.backends.cudnn.benchmark = fast
    torch.backends.cuda.matmul.allow_tf32 = fast  # only fp32 matmuls left outside autocast
    return {
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
    }


class Recipe:
    """One way of feeding and running the model: batches, forward, optimizer, settings."""

    def __init__(self, name: str, args, shapes, device: torch.device):
        self.name, self.device, self.shapes = name, device, shapes
        original = name == "original"
        self.micro_batch = ORIGINAL_MICRO_BATCH if original else args.fast_micro_batch
        self.grad_accum = max(1, args.effective_batch // self.micro_batch)
        n_train = (args.warmup_steps + args.steps) * self.micro_batch
        # bf16 is the GPU fast path; CPUs without bf16 units run it far slower than fp32
        self.precision = "bf16" if not original and device.type == "cuda" else "fp32"
        self.hp = paper_shapes.paper_settings(
            micro_batch=self.micro_batch,
            grad_accum=self.grad_accum,
            precision=self.precision,
            compile=name == "fast_compiled",
            device=device.type,
        )
        seed_everything(0, self.hp.deterministic)
        self.backend = set_backend(name, device)  # after seeding, which sets cudnn.benchmark too
        self.train_inputs = paper_shapes.make_inputs(shapes, n_train, seed=1)
        attention = "eager" if original else "sdpa"
        model = paper_shapes.build_model(shapes, self.hp, self.train_inputs, attention)
        self.model = model.to(device) if original else place_model(model, device)
        self.forward = torch.compile(self.model) if self.hp.compile else self.model
        if original:
            # the original's torch.optim.Adam ran one parameter at a time (no foreach, no fused kernels)
            self.opt = torch.optim.Adam(self.model.parameters(), lr=self.hp.lr, foreach=False)
            mean, std = paper_shapes.normalisation()
            self.jpegs = paper_shapes.make_jpegs(shapes, 64, seed=2)
            self.dataset = lambda inputs: JpegDataset(
                self.jpegs, inputs, shapes.image_size, shapes.crop_size, mean, std
            )
            self.workers = args.workers
        else:
            n_micro = math.ceil(n_train / self.micro_batch)
            self.opt = make_optimizer(self.model, self.hp, {}, n_train, n_micro, device)[0]
            self.device_inputs = on_device_if_it_fits(self.train_inputs, device)

    def settings(self) -> dict:
        original = self.name == "original"
        return {
            "precision": self.precision,
            "micro_batch": self.micro_batch,
            "grad_accum": self.grad_accum,
            "data": f"JPEG decode + PIL transforms in a DataLoader, {self.workers} workers"
            if original
            else "uint8 store "
            + ("on the device" if isinstance(self.device_inputs.arrays["images"], torch.Tensor) else "pinned host"),
            "channels_last": not original and self.device.type == "cuda",
            "attention": "eager" if original else "sdpa",
            "optimizer": "Adam, per parameter" if original else f"{type(self.opt).__name__}, fused on CUDA",
            "compile": self.hp.compile,
            **self.backend,
        }

    def _loader_batches(self, inputs, batch_size: int, shuffle: bool):
        loader = DataLoader(
            self.dataset(inputs),
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.workers,
            drop_last=True,
            generator=torch.Generator().manual_seed(0),
        )
        while True:  # another pass when the timed steps outlast the split
            for ids, mask, images, labels, index in loader:
                dev = self.device  # the original moved every tensor with .cuda(): pageable, synchronous
                yield {
                    "input_ids": ids.to(dev),
                    "attention_mask": mask.to(dev),
                    "images": images.to(dev),
                    "labels": labels.to(dev),
                    "index": index.to(dev),
                }

    def _store_batches(self, inputs, batch_size: int, shuffle: bool):
        if batch_size > len(inputs):
            raise ValueError(f"micro-batch {batch_size} is larger than the {len(inputs)} generated samples")
        rng = np.random.default_rng(0)
        while True:  # as the trainer: a permutation per pass; another pass when the steps outlast the split
            order = rng.permutation(len(inputs)) if shuffle else np.arange(len(inputs))
            for start in range(0, len(inputs) - batch_size + 1, batch_size):
                yield inputs.batch(order[start : start + batch_size], self.device)

    def batches(self, inputs, batch_size: int, shuffle: bool):
        """Micro-batches on the device, endlessly."""
        if self.name == "original":
            return self._loader_batches(inputs, batch_size, shuffle)
        return self._store_batches(inputs, batch_size, shuffle)

    def outputs(self, batch: dict) -> dict:
        if self.name != "original":
            return self.forward(batch)
        # the original's image path: normalised float images from the DataLoader straight into the CNN
        model = self.model
        feats = {
            "txt": model.text_encoder(batch["input_ids"], batch["attention_mask"]),
            "img": model.image_encoder.regions(batch["images"]),
        }
        return model.fusion(feats)


def _summary(recipe: Recipe, samples: int, wall: float, phases: dict, steps: int, warmup_s: float, extra: dict):
    out = {
        "samples_per_s": samples / wall,
        "samples": samples,
        "wall_s": wall,
        "warmup_s": warmup_s,
        "steps": steps,
        "per_step_ms": {k: 1000 * v / steps for k, v in phases.items()},
        "micro_batch": recipe.micro_batch,
        **extra,
        "settings": recipe.settings(),
    }
    if recipe.device.type == "cuda":
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def time_training(recipe: Recipe, steps: int, warmup: int) -> dict:
    model, opt, accum = recipe.model, recipe.opt, recipe.grad_accum
    model.train()
    clock, device = PhaseClock(recipe.device), recipe.device
    inputs = recipe.train_inputs if recipe.name == "original" else recipe.device_inputs
    batches = recipe.batches(inputs, recipe.micro_batch, shuffle=True)
    opt.zero_grad(set_to_none=True)
    t_start = time.perf_counter()
    optimizer_steps = 0
    for k in range(warmup + steps):
        timed = k - warmup  # < 0 during warm-up
        if timed == 0:
            warmup_s, t0 = _end_warmup(device, clock, t_start)
        batch = next(batches)
        clock.mark("data")
        with autocast(device, recipe.precision):
            out = recipe.outputs(batch)
            loss = model.fusion.loss(out, batch["labels"], batch["index"])
        clock.mark("forward")
        (loss / accum).backward()
        clock.mark("backward")
        # warm-up ends with an optimizer step (state allocated, kernels built); then one every `accum`
        if k == warmup - 1 or (timed >= 0 and (timed + 1) % accum == 0):
            opt.step()
            opt.zero_grad(set_to_none=True)
            optimizer_steps += timed >= 0
        clock.mark("optimizer")
    _sync(device)
    wall = time.perf_counter() - t0
    final_loss = loss.item()
    if not math.isfinite(final_loss):
        raise RuntimeError(f"{recipe.name}: non-finite loss {final_loss}")
    extra = {"optimizer_steps": optimizer_steps, "final_loss": final_loss}
    return _summary(recipe, steps * recipe.micro_batch, wall, clock.seconds(), steps, warmup_s, extra)


def time_evaluation(recipe: Recipe, steps: int, warmup: int) -> dict:
    """No-grad forward; the fast recipe as ``pdf_core.train.predict`` (uncompiled model, batches of 512)."""
    original = recipe.name == "original"
    inputs = recipe.train_inputs if original else recipe.device_inputs
    batch_size = ORIGINAL_MICRO_BATCH if original else min(EVAL_BATCH, len(inputs))  # tiny runs have fewer
    model, device, clock = recipe.model, recipe.device, PhaseClock(recipe.device)
    model.eval()
    batches = recipe.batches(inputs, batch_size, shuffle=False)
    t_start = time.perf_counter()
    with torch.no_grad():
        for k in range(warmup + steps):
            if k == warmup:
                warmup_s, t0 = _end_warmup(device, clock, t_start)
            batch = next(batches)
            clock.mark("data")
            with autocast(device, recipe.precision):
                out = recipe.outputs(batch) if original else model(batch)
            out["logits"].float().cpu()
            clock.mark("forward")
    wall = time.perf_counter() - t0
    return _summary(recipe, steps * batch_size, wall, clock.seconds(), steps, warmup_s, {"micro_batch": batch_size})


def environment(device: torch.device) -> dict:
    import transformers

    env = {
        "device": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--tiny", action="store_true", help="tiny shapes (2-layer BERT, ResNet-18, 32 px): CPU tests")
    p.add_argument("--steps", type=int, default=40, help="timed micro-batches per recipe (default 40)")
    p.add_argument("--warmup-steps", type=int, default=5, help="untimed micro-batches first (default 5)")
    p.add_argument("--eval-steps", type=int, help="timed evaluation batches (default: --steps // 2, at least 1)")
    p.add_argument("--fast-micro-batch", type=int, default=256, help="micro-batch of the fast path (default 256)")
    p.add_argument("--effective-batch", type=int, default=640, help="samples per optimizer step (paper: 16 x 40)")
    p.add_argument("--compile", action="store_true", help="also time the fast path with torch.compile")
    p.add_argument("--workers", type=int, default=min(12, os.cpu_count() or 1), help="original DataLoader workers")
    p.add_argument("--skip", nargs="*", default=[], help="recipes not to run (original, fast, fast_compiled)")
    p.add_argument("--json", type=Path, help="write the results here (rewritten after every recipe)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup_steps < 1:
        p.error("--steps and --warmup-steps must be at least 1")
    args.eval_steps = args.eval_steps or max(1, args.steps // 2)
    return args


def _ratios(results: dict) -> dict:
    out = {}
    for kind in ("train", "eval"):
        base = results[kind].get("original", {}).get("samples_per_s")
        for name, res in results[kind].items():
            if name != "original" and base:
                out[f"{kind}_{name}_over_original"] = res["samples_per_s"] / base
    return out


def _print_row(kind: str, name: str, res: dict) -> None:
    steps = " ".join(f"{k} {v:.1f}" for k, v in res["per_step_ms"].items())
    print(
        f"{kind:5s} {name:14s} {res['samples_per_s']:10.1f} samples/s  micro-batch {res['micro_batch']:4d}"
        f"  ms/step: {steps}  (warm-up {res['warmup_s']:.1f} s)",
        flush=True,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    device = pick_device(args.device)
    shapes = paper_shapes.TINY if args.tiny else paper_shapes.PAPER
    recipes = [r for r in ("original", "fast") + (("fast_compiled",) if args.compile else ()) if r not in args.skip]
    results = {
        "environment": environment(device),
        "config": {
            "shapes": "tiny" if args.tiny else "paper",
            "model": paper_shapes.MODEL,
            "bert": shapes.bert or "BertConfig() defaults (BERT-base)",
            "image_encoder": shapes.image_source,
            "tokens": shapes.tokens,
            "classes": shapes.classes,
            "image_size": shapes.image_size,
            "crop_size": shapes.crop_size,
            "jpeg_size": shapes.jpeg_size,
            "steps": args.steps,
            "warmup_steps": args.warmup_steps,
            "eval_steps": args.eval_steps,
            "effective_batch": args.effective_batch,
        },
        "train": {},
        "eval": {},
        "ratios": {},
    }
    print(f"{results['environment']}  shapes: {results['config']['shapes']}", flush=True)
    for name in recipes:
        recipe = Recipe(name, args, shapes, device)
        timers = [("train", time_training, args.steps), ("eval", time_evaluation, args.eval_steps)]
        # evaluation runs the uncompiled model (as pdf_core.train.predict): fast_compiled's would repeat fast's
        for kind, timer, steps in timers[:1] if name == "fast_compiled" else timers:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            results[kind][name] = timer(recipe, steps, args.warmup_steps)
            results["ratios"] = _ratios(results)
            _print_row(kind, name, results[kind][name])
            if args.json:
                write_json(args.json, results)
        del recipe
        with contextlib.suppress(Exception):
            torch.cuda.empty_cache()
    for key, value in results["ratios"].items():
        print(f"ratio {key}: {value:.2f}x")
    if not args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
