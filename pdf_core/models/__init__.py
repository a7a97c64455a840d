"""The model registry: a ``model`` name in params.yaml -> its class."""
from __future__ import annotations

from pdf_core.models.base import FusionModel, InputDims
from pdf_core.models.latefusion import LateFusion
from pdf_core.models.qmf import QMF

MODEL_REGISTRY: dict[str, type[FusionModel]] = {
    "latefusion": LateFusion,
    "qmf": QMF,
}


def build_model(name: str, dims: InputDims, n_classes: int, hp: dict, n_train: int) -> FusionModel:
    if name not in MODEL_REGISTRY:
        raise ValueError(f"model {name!r} is not implemented; available: {', '.join(sorted(MODEL_REGISTRY))}")
    return MODEL_REGISTRY[name](dims, n_classes, hp, n_train)
