"""Stage ``train``: one model, one seed; best-dev checkpoint, resumable from ``last.pt``."""

from __future__ import annotations

from pathlib import Path

from pdf_core import paths
from pdf_core.stages import add_run_arguments, dataset_block
from pdf_core.stages.model_runs import model_outputs, n_classes, run_reads, split_inputs

SCOPE = "model"
STAMP_DIR = "runs"
UPSTREAM = ("encode", "tune")  # `tune` only for methods tuned on dev: their settings come from its choice


def reads(params: dict, dataset: str, model: str) -> dict:
    return run_reads(params, dataset, model)


def outputs(params: dict, dataset: str, model: str) -> list:
    return model_outputs(dataset, model)


def add_arguments(parser) -> None:
    add_run_arguments(parser)


def run(params: dict, args) -> None:
    from pdf_core.settings import run_settings

    dataset_block(params, args.dataset)  # a clear error for an unknown name
    hp = run_settings(params, args.model, args.dataset)
    run_dir = paths.run_dir(args.dataset, args.model, args.seed)
    curves = paths.curves_dir(args.dataset, args.model, args.seed)
    print(train_on_train_and_dev(params, args.dataset, args.model, args.seed, hp, run_dir, curves))


def train_on_train_and_dev(params: dict, dataset: str, model: str, seed: int, hp, run_dir: Path, curves_dir: Path):
    """One run trained on the dataset's train split and selected on dev (the test split is never opened)."""
    from pdf_core.train import train_run

    ds = dataset_block(params, dataset)
    return train_run(
        model,
        hp,
        ds,
        params["features"],
        n_classes(dataset),
        seed,
        split_inputs(ds, hp, "train"),
        split_inputs(ds, hp, "dev"),
        run_dir,
        curves_dir,
    )
