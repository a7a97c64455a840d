"""``concatbert``: early fusion of the pooled text vector and the flattened image regions -> MLP.

The MLP is the MMBT-baselines one: for each size in ``hidden`` a Linear, BatchNorm1d (unless
``include_bn`` is false), ReLU and Dropout(``dropout``), then a Linear to the classes. ``hidden: []``
(the official runs' default) makes it a single linear layer.
"""

from __future__ import annotations

import torch
from torch import nn

from pdf_core.models.base import FusionModel


def mlp(in_dim: int, hidden: list[int], out_dim: int, dropout: float, batch_norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden:
        layers.append(nn.Linear(in_dim, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers += [nn.ReLU(), nn.Dropout(dropout)]
        in_dim = size
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


GROUP = "static"
# this model's own keys under `models.concatbert` (read by the registry without importing torch)
SETTINGS = {
    "hidden": {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "default": [],
    },  # MLP widths (official: none)
    "include_bn": {"type": "boolean", "default": True},  # BatchNorm1d after each hidden layer
}


class ConcatBert(FusionModel):
    inputs = ("txt", "img")

    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.clf = mlp(dims.txt + dims.img_flat, list(hp.hidden or []), n_classes, hp.dropout, bool(hp.include_bn))

    def forward(self, feats):
        return {"logits": self.clf(torch.cat([feats["txt"], feats["img"].flatten(1)], dim=1))}


MODEL = ConcatBert
