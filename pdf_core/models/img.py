"""``img``: image-only baseline — the pooled regions, flattened -> dropout + linear."""

from __future__ import annotations

from pdf_core.models.base import FusionModel, image_head

# the row group of the paper-style tables: unimodal | static (fusion) | dynamic (fusion)
GROUP = "unimodal"
# this model's own keys under `models.img` (read by the registry without importing torch)
SETTINGS = {}


class Img(FusionModel):
    inputs = ("img",)

    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.clf = image_head(dims, n_classes, hp.dropout)

    def forward(self, feats):
        return {"logits": self.clf(feats["img"])}


MODEL = Img
