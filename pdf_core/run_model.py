"""The trainable model of one run: a fusion model (:mod:`pdf_core.models`) and, in finetune mode, the
text and image encoders that turn a batch of :mod:`pdf_core.inputs` into the features it reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from pdf_core.features.encoders import ImageEncoder, TextEncoder
from pdf_core.models import build_model
from pdf_core.models.base import FusionModel, InputDims
from pdf_core.settings import RunSettings

if TYPE_CHECKING:
    from pdf_core.inputs import SplitInputs


class RunModel(nn.Module):
    """A fusion model plus, in finetune mode, the trainable encoders feeding it."""

    def __init__(
        self, fusion: FusionModel, text_encoder: nn.Module | None = None, image_encoder: nn.Module | None = None
    ):
        super().__init__()
        self.fusion, self.text_encoder, self.image_encoder = fusion, text_encoder, image_encoder

    def features(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        feats = {}
        for key in self.fusion.inputs:
            if key == "txt" and self.text_encoder is not None:
                feats["txt"] = self.text_encoder(batch["input_ids"], batch["attention_mask"])
            elif key == "img" and self.image_encoder is not None:
                feats["img"] = self.image_encoder(batch["images"])
            elif key in batch:
                feats[key] = batch[key].float()
        # models that need raw tokens (MMBT) read them from the batch directly
        for key in ("input_ids", "attention_mask", "images"):
            if key in batch:
                feats.setdefault(key, batch[key])
        return feats

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.fusion(self.features(batch))


def build_run_model(
    model_name: str, hp: RunSettings, ds: dict, features: dict, n_classes: int, train_inputs: SplitInputs
) -> RunModel:
    """The whole trainable model of one run; input sizes are read off the training inputs."""
    n_train, a = len(train_inputs), train_inputs.arrays
    if hp.mode == "frozen":
        dims = InputDims(
            txt=a["txt"].shape[1], img_regions=a["img"].shape[1], img=a["img"].shape[2], bow=a["bow"].shape[1]
        )
        return RunModel(build_model(model_name, dims, n_classes, hp, n_train))
    text_enc = TextEncoder(ds["text_encoder_spec"])
    image_enc = ImageEncoder(ds["image_encoder_spec"], features["crop_size"], features["mean"], features["std"])
    dims = InputDims(txt=text_enc.dim, img_regions=image_enc.num_regions, img=image_enc.dim, bow=a["bow"].shape[1])
    fusion = build_model(model_name, dims, n_classes, hp, n_train)
    return RunModel(fusion, text_enc if "txt" in fusion.inputs else None, image_enc if "img" in fusion.inputs else None)
