"""The model registry: a ``model`` name in params.yaml -> its class."""
from __future__ import annotations

from pdf_core.models.base import FusionModel, InputDims
from pdf_core.models.bert import Bert
from pdf_core.models.bow import BoW
from pdf_core.models.concatbert import ConcatBert
from pdf_core.models.concatbow import ConcatBoW
from pdf_core.models.img import Img
from pdf_core.models.latefusion import LateFusion
from pdf_core.models.mmbt import MMBT
from pdf_core.models.pdf import PDF
from pdf_core.models.qmf import QMF
from pdf_core.models.tmc import TMC

MODEL_REGISTRY: dict[str, type[FusionModel]] = {
    "bow": BoW,
    "img": Img,
    "bert": Bert,
    "concatbow": ConcatBoW,
    "concatbert": ConcatBert,
    "mmbt": MMBT,
    "latefusion": LateFusion,
    "tmc": TMC,
    "qmf": QMF,
    "pdf": PDF,
}


def build_model(name: str, dims: InputDims, n_classes: int, hp: dict, n_train: int) -> FusionModel:
    if name not in MODEL_REGISTRY:
        raise ValueError(f"model {name!r} is not implemented; available: {', '.join(sorted(MODEL_REGISTRY))}")
    return MODEL_REGISTRY[name](dims, n_classes, hp, n_train)
