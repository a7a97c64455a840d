"""Static late fusion: the mean of text and image logits, trained with CE on the fused logits."""

from __future__ import annotations

import torch

from pdf_core.models.base import LateFusionBase

# the row group of the paper-style tables: unimodal | static (fusion) | dynamic (fusion)
GROUP = "static"
# this model's own keys under `models.latefusion` (read by the registry without importing torch)
SETTINGS = {}


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
