"""What every model shares: input dimensions, unimodal heads, and the interface the trainer uses.

A model consumes a *feature dict* — ``txt`` [B, Dt] (pooled text encoder output), ``img``
[B, R, Di] (image regions), ``bow`` [B, Dg] (GloVe bag of words) — produced either from frozen
caches or by trainable encoders (:mod:`pdf_core.models.encoders`). It returns a dict with at least
``logits``; dynamic-fusion models add per-sample ``weight_txt`` / ``weight_img``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from pdf_core.settings import RunSettings


@dataclass(frozen=True)
class InputDims:
    txt: int  # pooled text feature size
    img_regions: int  # num_image_embeds
    img: int  # channels per region
    bow: int  # GloVe dimension

    @property
    def img_flat(self) -> int:
        return self.img_regions * self.img


class FusionModel(nn.Module):
    """Base class. Subclasses set ``inputs`` (which features they read) and implement forward/loss."""

    inputs: tuple[str, ...] = ("txt", "img")

    def __init__(self, dims: InputDims, n_classes: int, hp: RunSettings, n_train: int):
        super().__init__()
        self.dims, self.n_classes, self.hp, self.n_train = dims, n_classes, hp, n_train

    def forward(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def loss(self, out: dict[str, torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Training loss of one micro-batch; ``index`` = positions of the samples in the training set."""
        return F.cross_entropy(out["logits"], labels)

    def on_epoch_end(self, epoch: int) -> None:
        """Hook for per-epoch state (QMF's history bookkeeping)."""

    def image_head_parameters(self) -> list[nn.Parameter]:
        """Parameters of the image classifier head, which train at ``lr * img_lr_factor``; none by default."""
        return []


def image_dropout(hp: RunSettings) -> float:
    """Dropout on the image features: ``img_dropout``, or ``dropout`` when it is null."""
    return hp.dropout if hp.img_dropout is None else hp.img_dropout


def text_head(dims: InputDims, n_classes: int, dropout: float) -> nn.Module:
    """BERT classifier head of the paper: dropout + linear on the pooled output."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(dims.txt, n_classes))


def image_head(dims: InputDims, n_classes: int, dropout: float) -> nn.Module:
    """Image classifier head of the paper: flatten the regions, dropout + linear."""
    return nn.Sequential(nn.Flatten(1), nn.Dropout(dropout), nn.Linear(dims.img_flat, n_classes))


class LateFusionBase(FusionModel):
    """Two unimodal classifiers — the paper's text head and image head — whose outputs a subclass fuses."""

    inputs = ("txt", "img")

    def __init__(self, dims: InputDims, n_classes: int, hp: RunSettings, n_train: int):
        super().__init__(dims, n_classes, hp, n_train)
        self.txt_head = text_head(dims, n_classes, hp.dropout)
        self.img_head = image_head(dims, n_classes, image_dropout(hp))

    def image_head_parameters(self) -> list[nn.Parameter]:
        return list(self.img_head.parameters())

    def unimodal_logits(self, feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.txt_head(feats["txt"]), self.img_head(feats["img"])
