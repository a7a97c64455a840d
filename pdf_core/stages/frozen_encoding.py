"""What the two encode stages (``encode``: clean splits and train-time corruption; ``encode_noisy``: the
noisy test conditions) share: the settings their caches come from, and the encoders they open."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import encoder_specs


def encode_reads(params: dict, dataset: str) -> dict:
    """The settings every frozen-feature cache of the dataset depends on."""
    return {"encoders": encoder_specs(params, dataset), "features": params["features"]}


def frozen_encoders(params: dict, dataset: str):
    """The dataset's frozen encoders on the configured device, and its feature store folder."""
    import torch

    from pdf_core.device import pick_device
    from pdf_core.features.frozen import FrozenEncoders

    settings = encode_reads(params, dataset)
    torch.manual_seed(0)
    device = pick_device(params["train"]["device"])  # where it runs, not what it computes
    encoders = FrozenEncoders(settings["encoders"], settings["features"], paths.glove_dir(dataset), device)
    return encoders, paths.features_dir(dataset)
