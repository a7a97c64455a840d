"""The train, evaluate and aggregate steps of the fine-tuned MVSA grid on a machine without Snakemake,
DVCLive or the packaged encoders: what bench/mvsa_finetune_gpu.sh runs, one step per process.

    python bench/mvsa_finetune_gpu.py --bundle B jobs [--models M ...] [--seeds S ...]
    python bench/mvsa_finetune_gpu.py --bundle B train MODEL SEED
    python bench/mvsa_finetune_gpu.py --bundle B evaluate MODEL SEED [SEED ...]
    python bench/mvsa_finetune_gpu.py --bundle B aggregate OUT_DIR

Run from the repository root after ``bench/mvsa_finetune_bundle.py unpack B``. Settings: the bundle's
``params.yaml`` (validated when the bundle was built), its text encoder read from the bundle. Each step
calls the library as the pipeline's stage does (``pdf_core.train.train_run``, ``evaluate_runs``,
``aggregate``); training curves are not written (DVCLive writes them), the rest is the pipeline's layout
(``runs/<dataset>/<model>/seed<k>/``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from functools import partial
from pathlib import Path

import yaml

from pdf_core import paths
from pdf_core.aggregate import aggregate
from pdf_core.config import dataset_config
from pdf_core.evaluate import evaluate_runs
from pdf_core.grid import conditions
from pdf_core.inputs import finetune_inputs
from pdf_core.io_utils import read_json
from pdf_core.models import encoder_inside
from pdf_core.noise import NoiseCondition
from pdf_core.settings import run_settings
from pdf_core.train import train_run


def bundle_params(bundle: Path) -> dict:
    """The bundle's resolved settings, the dataset's text encoder pointed at the bundle's copy."""
    params = yaml.safe_load((bundle / "params.yaml").read_text(encoding="utf-8"))
    (dataset,) = params["grid"]["datasets"]
    name = params["datasets"][dataset]["text_encoder"]
    params["encoders"]["text"][name]["source"] = str((bundle / "text_encoder").resolve())
    return params


def split_inputs(params: dict, dataset: str, split: str, cond: NoiseCondition | None = None):
    ds = dataset_config(params, dataset)
    return finetune_inputs(paths.features_dir(dataset), split, ds, paths.glove_dir(dataset), cond)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, required=True)
    sub = ap.add_subparsers(dest="step", required=True)
    jobs = sub.add_parser("jobs", help="the (model, seed) training jobs, BERT-inside models first")
    jobs.add_argument("--models", nargs="*", help="default: the grid's")
    jobs.add_argument("--seeds", nargs="*", type=int, help="default: the grid's")
    train = sub.add_parser("train")
    train.add_argument("model")
    train.add_argument("seed", type=int)
    evaluate = sub.add_parser("evaluate")
    evaluate.add_argument("model")
    evaluate.add_argument("seeds", nargs="+", type=int)
    agg = sub.add_parser("aggregate")
    agg.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)

    params = bundle_params(args.bundle)
    grid = params["grid"]
    (dataset,) = grid["datasets"]
    if args.step == "jobs":
        models = sorted(args.models or grid["models"], key=lambda m: not encoder_inside(m))  # longest first
        for model in models:
            for seed in args.seeds or grid["seeds"]:
                print(model, seed)
        return 0
    if args.step == "aggregate":
        evals = sorted(Path("runs").glob(f"{dataset}/*/seed*/eval/*.json"))
        aggregate(evals, args.out_dir, params["significance"])
        return 0
    ds = dataset_config(params, dataset)
    hp = run_settings(params, args.model, dataset)
    n_classes = len(read_json(paths.classes_file(dataset)))
    train_inputs = split_inputs(params, dataset, "train")
    if args.step == "train":
        metrics = train_run(
            args.model,
            hp,
            ds,
            params["features"],
            n_classes,
            args.seed,
            train_inputs,
            split_inputs(params, dataset, "dev"),
            paths.run_dir(dataset, args.model, args.seed),
            None,
        )
        print(metrics)
        return 0
    mode = params["noise"]["mode"]
    loaders = [
        (cond, partial(split_inputs, params, dataset, "test", cond))
        for cond in (NoiseCondition(t, level, e, mode) for t, level, e in conditions(grid))
    ]
    checkpoints = [paths.run_dir(dataset, args.model, seed) / "model.pt" for seed in args.seeds]
    evaluate_runs(checkpoints, hp, ds, params["features"], train_inputs, loaders)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
