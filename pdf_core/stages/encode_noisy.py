"""Stage ``encode_noisy``: frozen-encoder features of the test split under every noisy condition (level
> 0 x eval seed) of one noise type of the grid, drawn as ``parity.noise`` says."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, feature_reads
from pdf_core.stages.frozen_encoding import frozen_encoders

SCOPE = "dataset"
STAMP_DIR = "data/features"
UPSTREAM = ("features", "glove")


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    return {**feature_reads(params, dataset), "noise_parity": params["parity"]["noise"]}


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    return [paths.frozen_noisy_dir(dataset)]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)
    from pdf_core.noise_types import NOISE_TYPE_NAMES

    parser.add_argument(
        "--noise-type", required=True, choices=NOISE_TYPE_NAMES, help="one noise type of the grid (docs/noise.md)"
    )


def run(params: dict, args) -> None:
    from pdf_core.features.frozen import encode_noisy_split
    from pdf_core.grid import conditions
    from pdf_core.noise import NoiseCondition

    noise_parity = reads(params, args.dataset)["noise_parity"]
    encoders, features = frozen_encoders(params, args.dataset)
    for noise_type, level, eval_seed in conditions(params["grid"], noisy_only=True, noise_type=args.noise_type):
        cond = NoiseCondition(noise_type, level, eval_seed, noise_parity)
        out = paths.frozen_noisy(args.dataset, noise_type, level, eval_seed)
        encode_noisy_split(encoders, features, "test", cond, out)
