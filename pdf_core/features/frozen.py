"""Frozen-encoder features: run each encoder once per sample and noise condition.

The heads of every model then train and evaluate on these caches — the fast path on CPUs and for
quick studies. Noise is applied to the stored uint8 images and raw texts *before* encoding, so a
noisy cache is exactly what the end-to-end path would see.

A cache (``.npz``) holds ``txt`` [N, Dt] (pooled text encoder output), ``img`` [N, R, Di] (image
regions), ``bow`` [N, Dg] (sum of GloVe vectors), the (noised) texts' ``input_ids`` /
``attention_mask``, ``labels``, and the per-sample ``image_noised`` / ``text_noised`` flags and
``text_masked`` (the text changed).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from tqdm import tqdm

from pdf_core.data.glove import load_glove
from pdf_core.features.encoders import ImageEncoder, TextEncoder, load_tokenizer, max_length, tokenize
from pdf_core.features.store import load_split
from pdf_core.io_utils import atomic_path
from pdf_core.noise import NoiseCondition, TestNoiser
from pdf_core.text import words

log = logging.getLogger(__name__)
T = TypeVar("T")


def bag_of_words(
    texts: list[str], vocab: dict[str, int], vectors: np.ndarray, glove_spec: dict, max_seq_len: int
) -> np.ndarray:
    """Sum of the GloVe vectors of each text's whitespace words [N, D]; a word without a vector adds nothing.

    ``bag_of_words`` (``parity.bag_of_words``, put into the GloVe spec by ``config.dataset_config``):

    * ``project`` — every word; the vocabulary holds the clean texts' words (``extract_glove``), so
      the noise mask ``_`` adds nothing (unless a clean text has ``_`` as a word);
    * ``original`` — the first ``max_seq_len - 1`` words (the text encoder's ``max_length``: the original
      had one ``max_seq_len`` for every model), and ``_`` has its GloVe vector (``extract_glove`` adds it
      to the vocabulary). QMF's ``JsonlDataset`` (``src/data/dataset.py``, first commit 8c16860) fed
      ``["[CLS]"] + str.split(text)[:max_seq_len - 1]`` to ``GloveBowEncoder`` (``src/models/bow.py``),
      which sums frozen GloVe rows; words GloVe lacks map to ``[UNK]``, whose row is zero, as is
      ``[CLS]``'s unless the GloVe file has that token.
    """
    lowercase = glove_spec.get("lowercase", True)
    limit = max_seq_len - 1 if glove_spec["bag_of_words"] == "original" else None
    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    for i, text in enumerate(texts):
        idx = [vocab[w] for w in words(text, lowercase)[:limit] if w in vocab]
        if idx:
            out[i] = vectors[idx].sum(0)
    return out


def prepared_ahead(prepare: Callable[[int], T], starts: list[int], overlap: bool) -> Iterator[tuple[int, T]]:
    """``(start, prepare(start))`` in order; with ``overlap``, the next chunk is prepared in a worker thread meanwhile.

    Reading the memmap, noising, tokenizing (numpy, the Rust tokenizer) release the GIL, and so does
    the encoders' forward: the stage's own work overlaps the encoder's instead of adding to it.
    One worker, so ``prepare`` runs on the chunks one at a time, in order (the noiser's state needs it).
    """
    if not overlap:
        yield from ((start, prepare(start)) for start in starts)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode-prepare") as pool:
        pending = pool.submit(prepare, starts[0]) if starts else None
        for k, start in enumerate(starts):
            ready = pending.result()
            if k + 1 < len(starts):
                pending = pool.submit(prepare, starts[k + 1])
            yield start, ready


def core_to_spare(device: torch.device) -> bool:
    """Whether a worker thread can run beside the encoder without taking a core from it.

    On a GPU the host is idle during the forward. On a CPU only when torch's threads leave a core
    free: a busy extra thread among as many OpenMP threads as cores makes the others wait at
    every barrier, which costs more than the work it moves.
    """
    if device.type != "cpu":
        return True
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return torch.get_num_threads() < cores


class FrozenEncoders:
    """The three encoders of one dataset, in eval mode, on one device."""

    def __init__(self, ds: dict, features: dict, glove_dir: Path, device: torch.device):
        self.device = device
        self.text_spec, self.glove_spec = ds["text_encoder_spec"], ds["glove_spec"]
        self.tokenizer = load_tokenizer(self.text_spec)
        self.text = TextEncoder(self.text_spec).to(device).eval()
        self.image = (
            ImageEncoder(ds["image_encoder_spec"], features["crop_size"], features["mean"], features["std"])
            .to(device)
            .eval()
        )
        self.glove_vocab, self.glove_vectors = load_glove(glove_dir)
        self.batch_size = features["encode_batch_size"]

    def encode(self, images: np.ndarray, texts: list[str], noiser: TestNoiser | None, desc: str) -> dict:
        """Every array of a cache but the labels and flags; noise, when given, is applied chunk by chunk."""
        if len(images) != len(texts):
            raise ValueError(f"{desc}: {len(images)} images but {len(texts)} texts")
        arrays = self.encode_images(images, noiser, desc) | self.encode_texts(texts, noiser, desc)
        return {key: arrays[key] for key in ("txt", "img", "bow", "input_ids", "attention_mask")}  # the cache's order

    def _chunks(self, n: int, prepare: Callable[[int], T], desc: str) -> Iterator[tuple[int, T]]:
        starts = list(range(0, n, self.batch_size))
        chunks = prepared_ahead(prepare, starts, core_to_spare(self.device))
        return tqdm(chunks, total=len(starts), desc=desc, unit="batch", mininterval=2)

    @torch.inference_mode()
    def encode_images(self, images: np.ndarray, noiser: TestNoiser | None, desc: str = "images") -> dict:
        """``img``: region features of the uint8 store ``images`` [N, S, S, 3] (noised first when given)."""

        def prepare(start: int) -> torch.Tensor:
            chunk = np.array(images[start : start + self.batch_size])  # a copy: the memmap is read here, not later
            return torch.from_numpy(chunk if noiser is None else noiser.images(chunk, start))

        img_out = [
            self.image(chunk.to(self.device)).float().cpu().numpy()
            for _, chunk in self._chunks(len(images), prepare, f"{desc} images")
        ]
        return {"img": np.concatenate(img_out)}

    @torch.inference_mode()
    def encode_texts(self, texts: list[str], noiser: TestNoiser | None, desc: str = "texts") -> dict:
        """``txt``, ``bow``, ``input_ids`` and ``attention_mask`` of ``texts`` (masked first when given)."""

        def prepare(start: int) -> dict[str, np.ndarray]:
            chunk = texts[start : start + self.batch_size]
            if noiser is not None:
                chunk = noiser.texts(chunk, start)
            bow = bag_of_words(chunk, self.glove_vocab, self.glove_vectors, self.glove_spec, max_length(self.text_spec))
            return dict(tokenize(self.tokenizer, chunk, self.text_spec), bow=bow)

        out: dict[str, list[np.ndarray]] = {"txt": [], "bow": [], "input_ids": [], "attention_mask": []}
        for _, chunk in self._chunks(len(texts), prepare, f"{desc} texts"):
            ids, mask = (torch.from_numpy(chunk[k]).to(self.device) for k in ("input_ids", "attention_mask"))
            out["txt"].append(self.text(ids, mask).float().cpu().numpy())
            for key in ("bow", "input_ids", "attention_mask"):  # token ids kept for models that run BERT (MMBT)
                out[key].append(chunk[key])
        return {key: np.concatenate(parts) for key, parts in out.items()}


def save_cache(path: Path, arrays: dict) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def encode_split(encoders: FrozenEncoders, features_dir: Path, split: str, out_path: Path) -> None:
    data = load_split(features_dir, split)
    n = len(data["labels"])
    arrays = encoders.encode(data["images"], data["texts"], None, desc=f"encode {split}")
    clean = np.zeros(n, bool)
    save_cache(out_path, dict(arrays, labels=data["labels"], image_noised=clean, text_noised=clean, text_masked=clean))


def encode_noisy_split(
    encoders: FrozenEncoders, features_dir: Path, split: str, cond: NoiseCondition, out_path: Path
) -> None:
    """The cache of ``split`` under one noise condition: the test split under a test condition, or the train
    split under a train-time corruption (its ``eval_seed`` the train-noise key, pdf_core.train_noise)."""
    data = load_split(features_dir, split)
    noiser = TestNoiser(cond, len(data["labels"]), data["texts"], data["sizes"])
    arrays = encoders.encode(
        data["images"],
        data["texts"],
        noiser,
        desc=f"encode {split} {cond.noise_type} eps={cond.level:g} e{cond.eval_seed}",
    )
    save_cache(
        out_path,
        dict(
            arrays,
            labels=data["labels"],
            image_noised=noiser.image_noised,
            text_noised=noiser.text_noised,
            text_masked=noiser.text_masked,
        ),
    )


def load_cache(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as cache:
        return {k: cache[k] for k in cache.files}
