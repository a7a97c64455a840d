"""The train, evaluate and aggregate steps of the fine-tuned MVSA grid on a machine without Snakemake,
DVCLive or the packaged encoders: what bench/mvsa_finetune_gpu.sh runs, one step per process.

    python bench/mvsa_finetune_gpu.py --bundle B jobs [--models M ...] [--seeds S ...]
    python bench/mvsa_finetune_gpu.py --bundle B train MODEL SEED
    python bench/mvsa_finetune_gpu.py --bundle B evaluate MODEL SEED [SEED ...]
    python bench/mvsa_finetune_gpu.py --bundle B aggregate OUT_DIR

Run from the repository root after ``bench/mvsa_finetune_bundle.py unpack B``. Settings: the bundle's
``params.yaml`` (validated when the bundle was built), its text encoder read from the bundle. Each step
calls the pipeline's own stage code (``pdf_core.stages.train`` without training curves: DVCLive writes
them; ``pdf_core.stages.evaluate``), so runs land in the pipeline's layout (``runs/<dataset>/<model>/seed<k>/``);
``aggregate`` tables the evaluations that exist (a budget may have left some runs out).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

from pdf_core import paths
from pdf_core.aggregate import aggregate
from pdf_core.models import encoder_inside
from pdf_core.settings import run_settings
from pdf_core.stages import evaluate as evaluate_stage
from pdf_core.stages import train as train_stage


def bundle_params(bundle: Path) -> dict:
    """The bundle's resolved settings, the dataset's text encoder pointed at the bundle's copy."""
    params = yaml.safe_load((bundle / "params.yaml").read_text(encoding="utf-8"))
    (dataset,) = params["grid"]["datasets"]
    name = params["datasets"][dataset]["text_encoder"]
    params["encoders"]["text"][name]["source"] = str((bundle / "text_encoder").resolve())
    return params


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
    if args.step == "train":
        hp = run_settings(params, args.model, dataset)
        run_dir = paths.run_dir(dataset, args.model, args.seed)
        print(train_stage.train_on_train_and_dev(params, dataset, args.model, args.seed, hp, run_dir, None))
        return 0
    evaluate_stage.run(params, argparse.Namespace(dataset=dataset, model=args.model, seed=args.seeds))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
