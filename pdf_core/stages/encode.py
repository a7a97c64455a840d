"""Stage ``encode``: frozen-encoder features of the clean splits, of the test split under every noisy
condition of one noise type in the grid (``--noise-type``), or of the train split under one train-time
corruption (``--train-noise TYPE --level L``, pdf_core.train_noise)."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, encoder_specs

SCOPE = "dataset"
STAMP_DIR = "data/features"
UPSTREAM = ("features", "glove")


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    return {
        "encoders": encoder_specs(params, dataset),
        "features": params["features"],
        "noise": params["noise"],
    }


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    return [paths.features_dir(dataset) / "frozen"]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)
    from pdf_core.noise_types import NOISE_TYPE_NAMES

    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--noise-type", choices=NOISE_TYPE_NAMES, help="encode the noisy test conditions of this type (docs/noise.md)"
    )
    which.add_argument(
        "--train-noise",
        choices=NOISE_TYPE_NAMES,
        metavar="TYPE",
        help="encode the train split under this type at --level (train-time corruption, docs/training.md)",
    )
    parser.add_argument("--level", type=float, help="the level of --train-noise (> 0)")


def run(params: dict, args) -> None:
    import torch

    from pdf_core.device import pick_device
    from pdf_core.features.frozen import FrozenEncoders, encode_noisy_split, encode_split
    from pdf_core.grid import conditions
    from pdf_core.noise import NoiseCondition
    from pdf_core.train_noise import TRAIN_NOISE_KEY, TRAIN_NOISE_MODE, mode_problem

    if (args.train_noise is None) != (args.level is None):
        raise ValueError("--train-noise TYPE and --level L go together (the train split under TYPE at level L)")
    settings = reads(params, args.dataset)
    mode = settings["noise"]["mode"]
    if args.train_noise is not None:
        problem = "the level must be > 0 (level 0 is the clean split)" if args.level <= 0 else mode_problem(mode)
        if problem is not None:
            raise ValueError(f"--train-noise {args.train_noise} --level {args.level:g}: {problem}")
    torch.manual_seed(0)
    device = pick_device(params["train"]["device"])  # where it runs, not what it computes
    encoders = FrozenEncoders(settings["encoders"], settings["features"], paths.glove_dir(args.dataset), device)
    features = paths.features_dir(args.dataset)
    if args.train_noise is not None:
        cond = NoiseCondition(args.train_noise, args.level, TRAIN_NOISE_KEY, TRAIN_NOISE_MODE)
        out = paths.frozen_train_noisy(args.dataset, args.train_noise, args.level)
        encode_noisy_split(encoders, features, "train", cond, out)
        return
    if args.noise_type is None:
        for split in paths.SPLITS:
            encode_split(encoders, features, split, paths.frozen_clean(args.dataset, split))
        return
    for noise_type, level, eval_seed in conditions(params["grid"], noisy_only=True, noise_type=args.noise_type):
        cond = NoiseCondition(noise_type, level, eval_seed, mode)
        encode_noisy_split(
            encoders, features, "test", cond, paths.frozen_noisy(args.dataset, noise_type, level, eval_seed)
        )
