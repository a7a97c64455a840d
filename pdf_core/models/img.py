"""``img``: image-only baseline — the pooled regions, flattened -> dropout + linear."""

from __future__ import annotations

from pdf_core.models.base import FusionModel, image_dropout, image_head

GROUP = "unimodal"


class Img(FusionModel):
    inputs = ("img",)

    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.clf = image_head(dims, n_classes, image_dropout(hp))

    def forward(self, feats):
        return {"logits": self.clf(feats["img"])}


MODEL = Img
