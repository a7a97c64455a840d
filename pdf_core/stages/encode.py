"""Stage ``encode``: frozen-encoder features of the clean splits, or of the test split under every noisy
condition of one noise type in the grid (``--noise-type``)."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, dataset_block

SCOPE = "dataset"
STAMP_DIR = "data/features"
UPSTREAM = ("features", "glove")


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    ds = dataset_block(params, dataset)
    return {
        "encoders": {key: ds[key] for key in ("text_encoder_spec", "image_encoder_spec", "glove_spec")},
        "features": params["features"],
        "noise": params["noise"],
    }


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    return [paths.features_dir(dataset) / "frozen"]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)
    from pdf_core.noise_types import NOISE_TYPE_NAMES

    parser.add_argument(
        "--noise-type", choices=NOISE_TYPE_NAMES, help="encode the noisy test conditions of this type (docs/noise.md)"
    )


def run(params: dict, args) -> None:
    import torch

    from pdf_core.device import pick_device
    from pdf_core.features.frozen import FrozenEncoders, encode_noisy_test, encode_split
    from pdf_core.grid import conditions
    from pdf_core.noise import NoiseCondition

    settings = reads(params, args.dataset)
    torch.manual_seed(0)
    device = pick_device(params["train"]["device"])  # where it runs, not what it computes
    encoders = FrozenEncoders(settings["encoders"], settings["features"], paths.glove_dir(args.dataset), device)
    features = paths.features_dir(args.dataset)
    if args.noise_type is None:
        for split in paths.SPLITS:
            encode_split(encoders, features, split, paths.frozen_clean(args.dataset, split))
        return
    for noise_type, level, eval_seed in conditions(params["grid"], noisy_only=True, noise_type=args.noise_type):
        cond = NoiseCondition(noise_type, level, eval_seed, settings["noise"]["mode"])
        encode_noisy_test(encoders, features, cond, paths.frozen_noisy(args.dataset, noise_type, level, eval_seed))
