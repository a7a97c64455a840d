"""What every model shares: input dimensions, unimodal heads, and the interface the trainer uses.

A model consumes a *feature dict* — ``txt`` [B, Dt] (pooled text encoder output), ``img``
[B, R, Di] (image regions), ``bow`` [B, Dg] (GloVe bag of words) — produced either from frozen
caches or by trainable encoders (:mod:`pdf_core.features.encoders`). It returns a dict with at least
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

    def weight_decay_overrides(self) -> dict[str, float]:
        """Weight decay of some parameters (names relative to this model) instead of ``train.weight_decay``."""
        return {}

    def lr_factors(self) -> dict[str, float]:
        """The lr of some parameters (names relative to this model) is ``train.lr`` times this factor."""
        return {}


# pytorch_pretrained_bert's `init_bert_weights` with bert-base-uncased's initializer_range
BERT_INIT_STD = 0.02


def head_dropout(hp: RunSettings, rate: float) -> nn.Module:
    """Dropout of ``rate`` before a classifier: the project's heads have it, the original's
    (``parity.heads: original``) not.

    Original (QMF first commit 8c16860): ``BertClf``, ``ImageClf`` (``src/models/bert.py``,
    ``src/models/image.py``) and ``MultimodalBertClf`` (``src/models/mmbt.py``) apply their ``clf``
    Linear straight to the pooled / flattened features.
    """
    return nn.Dropout(rate) if hp.heads == "project" else nn.Identity()


def image_dropout(hp: RunSettings) -> float:
    """Dropout on the image features: ``img_dropout``, or ``dropout`` when it is null."""
    return hp.dropout if hp.img_dropout is None else hp.img_dropout


def text_head(dims: InputDims, n_classes: int, hp: RunSettings) -> nn.Module:
    """Classifier on the pooled text vector: dropout (project) + linear.

    ``parity.heads: original``: no dropout, and the weight ~ N(0, 0.02) with a zero bias, as the
    original ``BertClf`` initialised it (``self.clf.apply(self.enc.bert.init_bert_weights)``).
    """
    linear = nn.Linear(dims.txt, n_classes)
    if hp.heads == "original":
        nn.init.normal_(linear.weight, mean=0.0, std=BERT_INIT_STD)
        nn.init.zeros_(linear.bias)
    return nn.Sequential(head_dropout(hp, hp.dropout), linear)


def image_head(dims: InputDims, n_classes: int, hp: RunSettings) -> nn.Module:
    """Classifier on the image regions: flatten, dropout (project; ``image_dropout``) + linear (PyTorch's init
    in both forms, as the original ``ImageClf``)."""
    return nn.Sequential(nn.Flatten(1), head_dropout(hp, image_dropout(hp)), nn.Linear(dims.img_flat, n_classes))


class LateFusionBase(FusionModel):
    """Two unimodal classifiers — the paper's text head and image head — whose outputs a subclass fuses."""

    inputs = ("txt", "img")

    def __init__(self, dims: InputDims, n_classes: int, hp: RunSettings, n_train: int):
        super().__init__(dims, n_classes, hp, n_train)
        self.txt_head = text_head(dims, n_classes, hp)
        self.img_head = image_head(dims, n_classes, hp)

    def lr_factors(self) -> dict[str, float]:
        """The image head trains at ``lr * img_lr_factor``."""
        return {f"img_head.{name}": self.hp.img_lr_factor for name, _ in self.img_head.named_parameters()}

    def unimodal_logits(self, feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.txt_head(feats["txt"]), self.img_head(feats["img"])
