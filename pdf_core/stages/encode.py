"""Stage ``encode``: frozen-encoder features of the clean splits, or of the train split under one
train-time corruption (``--train-noise TYPE --level L``, pdf_core.train_noise). The test split under
noise is stage ``encode_noisy``: its own stamp, so that a change of ``parity.noise`` re-encodes and
re-evaluates the noisy test conditions without retraining a model."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, feature_reads
from pdf_core.stages.frozen_encoding import frozen_encoders

SCOPE = "dataset"
STAMP_DIR = "data/features"
UPSTREAM = ("features", "glove")


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    return feature_reads(params, dataset)


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    return [paths.frozen_clean(dataset, split) for split in paths.SPLITS] + [paths.frozen_train_noisy_dir(dataset)]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)
    from pdf_core.noise_types import NOISE_TYPE_NAMES

    parser.add_argument(
        "--train-noise",
        choices=NOISE_TYPE_NAMES,
        metavar="TYPE",
        help="encode the train split under this type at --level (train-time corruption, docs/training.md)",
    )
    parser.add_argument("--level", type=float, help="the level of --train-noise (> 0)")


def run(params: dict, args) -> None:
    from pdf_core.features.frozen import encode_noisy_split, encode_split
    from pdf_core.noise import NoiseCondition
    from pdf_core.train_noise import TRAIN_NOISE_KEY, TRAIN_NOISE_PARITY, parity_problem

    if (args.train_noise is None) != (args.level is None):
        raise ValueError("--train-noise TYPE and --level L go together (the train split under TYPE at level L)")
    if args.train_noise is not None:
        # a refusal, not a setting: the train split's draws are always the project's (TRAIN_NOISE_PARITY)
        too_low = "the level must be > 0 (level 0 is the clean split)"
        problem = too_low if args.level <= 0 else parity_problem(params["parity"]["noise"])
        if problem is not None:
            raise ValueError(f"--train-noise {args.train_noise} --level {args.level:g}: {problem}")
    encoders, features = frozen_encoders(params, args.dataset)
    if args.train_noise is None:
        for split in paths.SPLITS:
            encode_split(encoders, features, split, paths.frozen_clean(args.dataset, split))
        return
    cond = NoiseCondition(args.train_noise, args.level, TRAIN_NOISE_KEY, TRAIN_NOISE_PARITY)
    out = paths.frozen_train_noisy(args.dataset, args.train_noise, args.level)
    encode_noisy_split(encoders, features, "train", cond, out)
