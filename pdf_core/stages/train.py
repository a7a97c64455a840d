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
        train_split_inputs(ds, hp),
        split_inputs(ds, hp, "dev"),
        run_dir,
        curves_dir,
    )


def train_split_inputs(ds: dict, hp):
    """The train split, with its corrupted versions when the run trains under ``train.noise`` (frozen mode:
    the encode stage's caches; finetune mode: corrupted when a batch asks for them)."""
    from pdf_core.inputs import CorruptedRows, NoisyTrainInputs, frozen_inputs
    from pdf_core.noise import NoiseCondition
    from pdf_core.train_noise import TRAIN_NOISE_KEY, TRAIN_NOISE_PARITY, train_conditions

    clean = split_inputs(ds, hp, "train")
    versions = train_conditions(hp.noise)
    if not versions:
        return clean
    name, named = ds["name"], []
    for noise_type, level in versions:
        if hp.mode == "frozen":
            cache = paths.frozen_train_noisy(name, noise_type, level)
            named.append((str(cache), frozen_inputs(cache)))
        else:
            cond = NoiseCondition(noise_type, level, TRAIN_NOISE_KEY, TRAIN_NOISE_PARITY)
            rows = CorruptedRows(paths.features_dir(name), ds, paths.glove_dir(name), cond)
            named.append((f"train split under {noise_type} at level {level:g}", rows))
    return NoisyTrainInputs(clean, named, hp.noise["probability"])
