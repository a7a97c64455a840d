"""What the two encode stages (``encode``: clean splits and train-time corruption; ``encode_noisy``: the
noisy test conditions) share: the encoders they open."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import feature_reads


def frozen_encoders(params: dict, dataset: str):
    """The dataset's frozen encoders on the configured device, and its feature store folder."""
    import torch

    from pdf_core.device import pick_device
    from pdf_core.features.frozen import FrozenEncoders

    settings = feature_reads(params, dataset)
    torch.manual_seed(0)
    device = pick_device(params["train"]["device"])  # where it runs, not what it computes
    encoders = FrozenEncoders(settings["encoders"], settings["features"], paths.glove_dir(dataset), device)
    return encoders, paths.features_dir(dataset)
