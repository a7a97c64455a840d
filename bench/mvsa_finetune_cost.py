"""What configs/mvsa_finetune.yaml costs on this machine: a measured slice of a real run, projected.

    python bench/mvsa_finetune_cost.py --model latefusion --micro-steps 200 [--configfile ...] [--json OUT]

Run from a checkout whose ``data/`` holds the preset's features of MVSA-Single (the ``features`` and
``glove`` jobs of ``snakemake --configfile configs/mvsa_finetune.yaml``). ``pdf_core.train.train_run``
trains ``--model`` for one epoch on the first ``--micro-steps`` micro-batches of the training split
(the preset's micro-batch and accumulation, so the optimizer steps as in the real run), then predicts
the dev split; the test split is never read. Wall time and this process's CPU time (user + sys) are
measured around each part, and projected: an epoch = the split's micro-batches at the measured rate
+ a dev pass; a run = ``max_epochs`` epochs (the best-dev recipe trains them all); evaluation = one
test pass per noise condition and train seed (each the size of a dev pass per sample).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from pdf_core import paths
from pdf_core.config import dataset_config, load_params
from pdf_core.device import pick_device, place_model
from pdf_core.grid import conditions
from pdf_core.inputs import SplitInputs, finetune_inputs
from pdf_core.io_utils import read_json, write_json
from pdf_core.run_model import build_run_model
from pdf_core.settings import run_settings
from pdf_core.train import predict, train_run


def subset(inputs: SplitInputs, rows: int) -> SplitInputs:
    """The first ``rows`` samples of a split (the image store stays memory-mapped)."""
    return SplitInputs({k: v[:rows] for k, v in inputs.arrays.items()}, inputs.labels[:rows])


class Rate:
    """Seconds per unit of a measured block."""

    def __init__(self, clock: Clock, units: int):
        self.wall, self.cpu = clock.wall / units, clock.cpu / units


class Clock:
    """Wall and CPU seconds (user + sys of this process) of a block."""

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall0, time.process_time() - self.cpu0


def projection(per_micro: Rate, per_dev_sample: Rate, hp, n: dict, grid: dict, n_models: int) -> dict:
    """Seconds (wall, cpu) of an epoch, a run, its evaluation and the whole grid at the measured rates."""
    n_micro = math.ceil(n["train"] / hp.micro_batch)
    n_conditions = len(conditions(grid))
    out = {}
    for kind in ("wall", "cpu"):
        micro, dev_sample = getattr(per_micro, kind), getattr(per_dev_sample, kind)
        epoch = n_micro * micro + n["dev"] * dev_sample
        run = hp.max_epochs * epoch
        evaluation = n_conditions * n["test"] * dev_sample
        runs = n_models * len(grid["seeds"])
        out[kind] = {"epoch_s": epoch, "run_s": run, "run_eval_s": evaluation, "grid_s": runs * (run + evaluation)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--micro-steps", type=int, default=200, help="training micro-batches measured")
    ap.add_argument("--configfile", default="configs/mvsa_finetune.yaml")
    ap.add_argument("--dataset", default="mvsa_single")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    params = load_params("params.yaml", (args.configfile,))
    ds, hp = dataset_config(params, args.dataset), run_settings(params, args.model, args.dataset)
    features, glove = paths.features_dir(args.dataset), paths.glove_dir(args.dataset)
    if not (features / "train" / "images.npy").exists():
        sys.exit(f"{features}: no image store; run the preset's features and glove jobs first (module docstring)")
    train, dev, test = (finetune_inputs(features, split, ds, glove) for split in paths.SPLITS)
    n = {"train": len(train), "dev": len(dev), "test": len(test)}
    n_classes = len(read_json(paths.classes_file(args.dataset)))
    measured = subset(train, min(args.micro_steps * hp.micro_batch, len(train)))
    run_dir = Path(tempfile.mkdtemp(prefix="mvsa_cost_"))
    try:
        # one epoch over the measured rows; a 1-sample dev pass (the dev split is timed on its own below)
        with Clock() as train_clock:
            train_run(
                args.model,
                dataclasses.replace(hp, max_epochs=1),
                ds,
                params["features"],
                n_classes,
                args.seed,
                measured,
                subset(dev, 1),
                run_dir,
                None,
            )
        device = pick_device(hp.device)
        model = place_model(build_run_model(args.model, hp, ds, params["features"], n_classes, train), device)
        model.load_state_dict(torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)["model"])
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    with Clock() as dev_clock:
        predict(model, dev, device, precision=hp.precision)
    micro_steps = math.ceil(len(measured) / hp.micro_batch)
    per_micro, per_dev_sample = Rate(train_clock, micro_steps), Rate(dev_clock, len(dev))
    result = {
        "model": args.model,
        "configfile": args.configfile,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "loadavg_1min_at_end": os.getloadavg()[0],
        },
        "settings": {k: getattr(hp, k) for k in ("micro_batch", "grad_accum", "max_epochs", "precision")},
        "crop_size": params["features"]["crop_size"],
        "split_sizes": n,
        "measured": {
            "micro_steps": micro_steps,
            "train_wall_s": train_clock.wall,
            "train_cpu_s": train_clock.cpu,
            "dev_samples": len(dev),
            "dev_wall_s": dev_clock.wall,
            "dev_cpu_s": dev_clock.cpu,
        },
        "projected": projection(per_micro, per_dev_sample, hp, n, params["grid"], len(params["grid"]["models"])),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
