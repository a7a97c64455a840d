"""Static late fusion: the mean of text and image logits, trained with CE on the fused logits."""

from __future__ import annotations

import torch

from pdf_core.models.base import LateFusionBase

GROUP = "static"


class LateFusion(LateFusionBase):
    def forward(self, feats):
        txt_logits, img_logits = self.unimodal_logits(feats)
        half = torch.full((txt_logits.shape[0],), 0.5, device=txt_logits.device)
        return {
            "logits": 0.5 * txt_logits + 0.5 * img_logits,
            "txt_logits": txt_logits,
            "img_logits": img_logits,
            "weight_txt": half,
            "weight_img": half,
        }


MODEL = LateFusion
