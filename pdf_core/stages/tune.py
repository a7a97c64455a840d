"""Stage ``tune``: selection on dev (params ``tune``) — one trial of a method's grid trained on train and
scored on dev, or ``--select`` the best trial. The test split is never opened."""

from __future__ import annotations

import logging

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, dataset_block
from pdf_core.stages.model_runs import run_reads
from pdf_core.stages.train import train_on_train_and_dev

log = logging.getLogger(__name__)

SCOPE = "model"
STAMP_DIR = "runs"
UPSTREAM = ("encode",)


def applies(params: dict, model: str) -> bool:
    """Only the methods tuned on dev have tune jobs (and a tune stamp)."""
    from pdf_core.tune import tuned

    return tuned(params, model)


def reads(params: dict, dataset: str, model: str) -> dict:
    from pdf_core.tune import trials

    return {**run_reads(params, dataset, model), "seeds": params["tune"]["seeds"], "trials": trials(params, model)}


def outputs(params: dict, dataset: str, model: str) -> list:
    return [paths.tune_dir(dataset, model)]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)
    parser.add_argument("--model", required=True, help="a method under `tune.models`")
    parser.add_argument("--trial", type=int, help="index of the grid point (pdf_core.tune.trials)")
    parser.add_argument("--seed", type=int, help="a tuning seed (tune.seeds)")
    parser.add_argument("--select", action="store_true", help="choose among the finished trials: selected.json")


def run(params: dict, args) -> None:
    from pdf_core import tune
    from pdf_core.settings import trial_settings

    dataset_block(params, args.dataset)
    if not applies(params, args.model):
        raise ValueError(f"{args.model} is not tuned: add it to tune.models in params.yaml")
    if args.select:
        print(tune.select(params, args.dataset, args.model)["settings"])
        return
    if args.trial is None or args.seed is None:
        raise ValueError("give --trial K --seed S (one trial) or --select")
    trials = reads(params, args.dataset, args.model)["trials"]
    if not 0 <= args.trial < len(trials):
        raise ValueError(f"--trial {args.trial}: {args.model}'s grid has trials 0..{len(trials) - 1}")
    hp = trial_settings(params, args.model, args.dataset, args.trial)
    log.info("trial %d of %s: %s", args.trial, args.model, trials[args.trial])
    files = tune.trial_files(args.dataset, args.model, args.trial, args.seed)
    run_dir = files["dev_metrics"].parent
    print(train_on_train_and_dev(params, args.dataset, args.model, args.seed, hp, run_dir, files["curves"]))
    (run_dir / "model.pt").unlink()  # a trial's product is its dev score; the chosen values are retrained
