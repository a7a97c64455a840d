"""Static late fusion: the mean of text and image logits, trained with CE on the fused logits."""
from __future__ import annotations

import torch

from pdf_core.models.base import FusionModel, image_head, text_head


class LateFusion(FusionModel):
    inputs = ("txt", "img")

    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.txt_head = text_head(dims, n_classes, hp["dropout"])
        self.img_head = image_head(dims, n_classes, hp["dropout"])

    def forward(self, feats):
        txt_logits, img_logits = self.txt_head(feats["txt"]), self.img_head(feats["img"])
        half = torch.full((txt_logits.shape[0],), 0.5, device=txt_logits.device)
        return {"logits": 0.5 * txt_logits + 0.5 * img_logits, "txt_logits": txt_logits, "img_logits": img_logits,
                "weight_txt": half, "weight_img": half}
