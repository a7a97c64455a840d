"""Shapes, model and generated inputs shared by the throughput benchmarks (train_throughput, trainer_run).

Paper size: BERT-base (``transformers.BertConfig()`` defaults) and ResNet-152, both with random
weights so nothing is downloaded; 48 tokens; 101 classes (Food-101); the store holds Resize(256) +
centre square, CenterCrop(224) at load; 3 image regions (MMBT's pooled ResNet feature map). Tiny:
the same code on a 2-layer 32-wide BERT and ResNet-18 at 32 px, for the CPU test. The model is the
project's own: ``pdf_core.run_model.build_run_model`` (TextEncoder + ImageEncoder + the ``qmf`` fusion
model) with the settings of the paper recipe (``paper_settings``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from pdf_core.inputs import SplitInputs
from pdf_core.run_model import build_run_model
from pdf_core.settings import make_settings

REPO = Path(__file__).resolve().parent.parent
MODEL = "qmf"  # the paper's method: BERT and ResNet classifiers fused by energy confidence
GLOVE_DIM = 300  # glove.840B.300d: the bag-of-words width (qmf does not read it)
IMAGE_POOL = 256  # distinct generated images; a larger split repeats them


@dataclass(frozen=True)
class Shapes:
    bert: dict = field(default_factory=dict)  # transformers.BertConfig fields; {} = BERT-base
    image_source: str = "torchvision:resnet152"
    image_size: int = 256  # store: Resize(short side) + centre square (paper: Resize 256)
    crop_size: int = 224  # CenterCrop at load
    jpeg_size: tuple[int, int] = (512, 384)  # (w, h) of the raw JPEGs the original recipe decodes
    tokens: int = 48
    classes: int = 101
    regions: int = 3
    vocab_size: int = 30522  # BertConfig's default


PAPER = Shapes()
TINY = Shapes(
    bert={
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "vocab_size": 1000,
        "max_position_embeddings": 64,
    },
    image_source="torchvision:resnet18",
    image_size=36,
    crop_size=32,
    jpeg_size=(48, 40),
    tokens=16,
    classes=5,
    vocab_size=1000,
)


def paper_settings(**overrides):
    """The paper's training recipe (DESIGN: Adam lr 5e-5, micro-batch 16 x 40) for ``qmf``, end to end."""
    values = {
        "mode": "finetune",
        "device": "auto",
        "max_epochs": 1,
        "patience": None,
        "micro_batch": 16,
        "grad_accum": 40,
        "partial_accumulation": "drop",
        "optimizer": "adam",
        "lr": 5e-5,
        "weight_decay": 0.0,
        "warmup": 0.1,
        "lr_patience": 2,
        "lr_factor": 0.5,
        "dropout": 0.1,
        "img_dropout": None,  # configs/paper.yaml: keys the original lacks, at their neutral values
        "img_lr_factor": 1.0,
        "precision": "fp32",
        "compile": False,
        "heads": "original",  # configs/paper.yaml `parity`
        "token_layout": "original",
        "deterministic": False,  # cuDNN autotuning (the original recipe's cudnn flags: set_backend)
        "noise": {"types": [], "levels": [], "probability": 0.0},  # the paper trains clean
    }
    return make_settings(MODEL, {**values, **overrides})


def normalisation() -> tuple[list[float], list[float]]:
    """The paper's mean/std, as params.yaml states them (``features.mean`` / ``features.std``)."""
    features = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["features"]
    return features["mean"], features["std"]


def dataset_config(shapes: Shapes, attention: str) -> dict:
    """The encoder specs of a dataset block; ``attention``: BERT's ``eager`` or ``sdpa`` attention."""
    return {
        "name": "bench",
        "text_encoder_spec": {
            "source": {**shapes.bert, "attn_implementation": attention},
            "max_length": shapes.tokens,
            "pooling": "pooler",
        },
        "image_encoder_spec": {"source": shapes.image_source, "weights": None, "num_image_embeds": shapes.regions},
    }


def features_config(shapes: Shapes) -> dict:
    mean, std = normalisation()
    return {"crop_size": shapes.crop_size, "mean": mean, "std": std}


def _images(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    """Smooth colour fields plus mild noise: JPEG sizes and decode cost like photos, not like static."""
    return np.concatenate([_image_chunk(rng, min(32, n - i), width, height) for i in range(0, n, 32)])


def _image_chunk(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    coarse = rng.integers(0, 256, (n, 4, 4, 3)).astype(np.float32)
    ys, xs = np.linspace(0, 3, height), np.linspace(0, 3, width)
    y0, x0 = np.floor(ys).astype(int).clip(0, 2), np.floor(xs).astype(int).clip(0, 2)
    fy, fx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    top = coarse[:, y0][:, :, x0] * (1 - fx) + coarse[:, y0][:, :, x0 + 1] * fx
    bottom = coarse[:, y0 + 1][:, :, x0] * (1 - fx) + coarse[:, y0 + 1][:, :, x0 + 1] * fx
    smooth = top * (1 - fy) + bottom * fy
    return np.clip(smooth + rng.normal(0, 8, smooth.shape), 0, 255).astype(np.uint8)


def make_inputs(shapes: Shapes, n: int, seed: int = 0) -> SplitInputs:
    """A generated split in the project's finetune layout: uint8 store images, token ids, labels."""
    rng = np.random.default_rng(seed)
    pool = _images(rng, min(n, IMAGE_POOL), shapes.image_size, shapes.image_size)
    images = pool[np.arange(n) % len(pool)]  # contents do not change the speed; generating them does
    ids = rng.integers(1000 if shapes.vocab_size > 2000 else 1, shapes.vocab_size, (n, shapes.tokens))
    arrays = {
        "images": images,
        "input_ids": ids.astype(np.int32),
        "attention_mask": np.ones((n, shapes.tokens), dtype=np.int8),
        "bow": np.zeros((n, GLOVE_DIM), dtype=np.float32),
    }
    return SplitInputs(arrays, rng.integers(0, shapes.classes, n).astype(np.int64))


def make_jpegs(shapes: Shapes, n: int, seed: int = 0) -> list[bytes]:
    """``n`` distinct JPEG files (quality 90) of the raw size: what the original recipe opens per sample."""
    width, height = shapes.jpeg_size
    out = []
    for arr in _images(np.random.default_rng(seed), n, width, height):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def build_model(shapes: Shapes, hp, inputs: SplitInputs, attention: str):
    """The project's RunModel (TextEncoder + ImageEncoder + qmf) at these shapes."""
    return build_run_model(
        MODEL, hp, dataset_config(shapes, attention), features_config(shapes), shapes.classes, inputs
    )
