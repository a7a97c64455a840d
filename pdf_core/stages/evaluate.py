"""Stage ``evaluate``: the trained runs of one model (one or more seeds, one process) under every noise
condition of the grid: accuracy, macro-F1, NLL, ECE and fusion weights per run and condition."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import add_run_arguments, dataset_block
from pdf_core.stages.model_runs import run_reads, split_inputs

SCOPE = "model"
STAMP_DIR = "runs"
UPSTREAM = ("train", "encode_noisy")


def reads(params: dict, dataset: str, model: str) -> dict:
    return {**run_reads(params, dataset, model), "noise_parity": params["parity"]["noise"]}


def outputs(params: dict, dataset: str, model: str) -> list:
    return [paths.eval_dir(run) for run in paths.model_dir(dataset, model).glob("seed*")]


def add_arguments(parser) -> None:
    add_run_arguments(parser, seeds="many")


def _condition_inputs(params: dict, ds: dict, hp, noise_parity: str) -> list:
    """(condition, loader) for every condition of the grid; each loader reads one condition's test inputs."""
    from functools import partial

    from pdf_core.grid import conditions
    from pdf_core.inputs import finetune_inputs, frozen_inputs
    from pdf_core.noise import NoiseCondition

    name = ds["name"]
    loaders = []
    for noise_type, level, eval_seed in conditions(params["grid"]):
        cond = NoiseCondition(noise_type, level, eval_seed, noise_parity)
        if hp.mode == "finetune":
            loader = partial(finetune_inputs, paths.features_dir(name), "test", ds, paths.glove_dir(name), cond)
        elif level == 0:  # nothing is noised at level 0: the clean test cache is that condition
            loader = partial(frozen_inputs, paths.frozen_clean(name, "test"))
        else:
            loader = partial(frozen_inputs, paths.frozen_noisy(name, noise_type, level, eval_seed))
        loaders.append((cond, loader))
    return loaders


def run(params: dict, args) -> None:
    from pdf_core.evaluate import evaluate_runs
    from pdf_core.settings import run_settings

    ds = dataset_block(params, args.dataset)
    hp = run_settings(params, args.model, args.dataset)
    noise_parity = reads(params, args.dataset, args.model)["noise_parity"]
    checkpoints = [paths.run_dir(args.dataset, args.model, seed) / "model.pt" for seed in args.seed]
    train_inputs = split_inputs(ds, hp, "train")  # sizes the models
    conditions = _condition_inputs(params, ds, hp, noise_parity)
    evaluate_runs(checkpoints, hp, ds, params["features"], train_inputs, conditions)
