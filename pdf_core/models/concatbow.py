"""``concatbow``: early fusion of the GloVe bag of words and the flattened image regions -> linear."""

from __future__ import annotations

import torch
from torch import nn

from pdf_core.models.base import FusionModel

GROUP = "static"


class ConcatBoW(FusionModel):
    inputs = ("bow", "img")

    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.clf = nn.Linear(dims.bow + dims.img_flat, n_classes)

    def forward(self, feats):
        return {"logits": self.clf(torch.cat([feats["bow"], feats["img"].flatten(1)], dim=1))}


MODEL = ConcatBoW
