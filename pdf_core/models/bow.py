"""``bow``: the GloVe bag-of-words baseline — the (frozen) sum of a text's word vectors -> linear."""

from __future__ import annotations

from torch import nn

from pdf_core.models.base import FusionModel

GROUP = "unimodal"


class BoW(FusionModel):
    inputs = ("bow",)

    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.clf = nn.Linear(dims.bow, n_classes)

    def forward(self, feats):
        return {"logits": self.clf(feats["bow"])}


MODEL = BoW
