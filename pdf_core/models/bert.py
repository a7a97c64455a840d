"""``bert``: text-only baseline — the pooled BERT output -> the text head (``base.text_head``: dropout + linear,
or the original's bare BERT-initialised linear with ``parity.heads: original``).

In ``frozen`` mode the pooled vector comes from the feature cache; in ``finetune`` mode from the
trainable :class:`~pdf_core.features.encoders.TextEncoder` that :class:`~pdf_core.run_model.RunModel`
runs in front of this head.
"""

from __future__ import annotations

from pdf_core.models.base import FusionModel, text_head

GROUP = "unimodal"


class Bert(FusionModel):
    inputs = ("txt",)

    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.clf = text_head(dims, n_classes, hp)

    def forward(self, feats):
        return {"logits": self.clf(feats["txt"])}


MODEL = Bert
