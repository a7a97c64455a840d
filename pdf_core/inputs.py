"""Model inputs for one split or noise condition, in either training mode.

* ``frozen``: the cached encoder features (``data/features/<ds>/frozen/*.npz``) as tensors.
* ``finetune``: the uint8 image store, token ids and GloVe bag of words; the trainable encoders of
  :class:`pdf_core.run_model.RunModel` turn them into features on the device. Test-time noise is applied here, on the
  stored images and texts, exactly as the frozen path applies it before encoding.

With train-time corruption (``train.noise``, :mod:`pdf_core.train_noise`) the training split is a
:class:`NoisyTrainInputs`: the clean split and its versions under each (type, level), each sample of an
epoch's batches taken from the clean split or from the version :func:`epoch_sources` drew for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pdf_core.data.glove import load_glove
from pdf_core.features.encoders import load_tokenizer, max_length, tokenize
from pdf_core.features.frozen import bag_of_words, load_cache
from pdf_core.features.store import load_split
from pdf_core.noise import NoiseCondition, TestNoiser
from pdf_core.noise_types import NOISE_DECLARATIONS
from pdf_core.train_noise import TRAIN_NOISE_STREAM

DEVICE_MEMORY_SHARE = 0.25  # a split is kept on the GPU when it takes at most this share of the free memory
_COPY_ROWS = 1024  # rows per host-to-device copy when a split moves to the GPU (bounds the host copy)


class SplitInputs:
    """Arrays of one split; ``batch(idx)`` gives the tensors of a micro-batch on ``device``.

    The arrays are numpy (host; the image store memory-mapped) or, after :meth:`to_device`, tensors
    already on the GPU, where a micro-batch is gathered without any host work or copy.
    """

    def __init__(self, arrays: dict, labels, image_noised=None, text_noised=None, text_masked=None):
        self.arrays, self.labels = arrays, labels
        n = len(labels)
        self.image_noised = np.zeros(n, bool) if image_noised is None else image_noised
        self.text_noised = np.zeros(n, bool) if text_noised is None else text_noised
        # text actually changed (a flagged text may keep every word)
        self.text_masked = np.zeros(n, bool) if text_masked is None else text_masked

    def __len__(self) -> int:
        return len(self.labels)

    def nbytes(self) -> int:
        return sum(v.nbytes for v in self.arrays.values()) + self.labels.nbytes

    def to_device(self, device: torch.device) -> SplitInputs:
        """The same split with every array as a tensor on ``device`` (copied in chunks of rows)."""

        def move(values: np.ndarray) -> torch.Tensor:
            out = torch.empty(values.shape, dtype=torch.from_numpy(values[:0]).dtype, device=device)
            for start in range(0, len(values), _COPY_ROWS):
                out[start : start + _COPY_ROWS] = torch.from_numpy(
                    np.ascontiguousarray(values[start : start + _COPY_ROWS])
                )
            return out

        arrays = {k: move(v) for k, v in self.arrays.items()}
        return SplitInputs(arrays, move(self.labels), self.image_noised, self.text_noised, self.text_masked)

    def for_epoch(self, seed: int, epoch: int) -> SplitInputs:
        """What the trainer's batches of one epoch come from: the split as it is (no train-time corruption)."""
        return self

    def batch(self, idx: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        index = np.asarray(idx, dtype=np.int64)
        out = {}
        for key, values in dict(self.arrays, labels=self.labels).items():
            if isinstance(values, torch.Tensor):  # already on the device: gather there
                out[key] = values[torch.from_numpy(index).to(values.device, non_blocking=True)]
                continue
            tensor = torch.from_numpy(np.ascontiguousarray(values[idx]))
            if device.type == "cuda":  # pinned host memory lets the copy overlap with compute
                tensor = tensor.pin_memory()
            out[key] = tensor.to(device, non_blocking=True)
        out["index"] = torch.from_numpy(index).to(device, non_blocking=True)
        return out


def epoch_sources(seed: int, epoch: int, n: int, probability: float, n_versions: int) -> np.ndarray:
    """Where each of the ``n`` training samples comes from in one epoch: -1 the clean split, k its k-th version.

    One generator per (train seed, epoch), ``[seed, epoch, TRAIN_NOISE_STREAM]``: ``n`` uniforms (sample i
    is corrupted when its uniform < ``probability``), then ``n`` integers in [0, ``n_versions``) (which
    version), both drawn at any probability, so a resumed run draws what an uninterrupted one does.
    """
    rng = np.random.default_rng([seed, epoch, TRAIN_NOISE_STREAM])
    corrupted = rng.random(n) < probability
    version = rng.integers(0, n_versions, size=n)
    return np.where(corrupted, version, -1)


class CorruptedRows:
    """Finetune mode: the train split under one test condition, its rows corrupted when a batch asks for them.

    The rows are what a frozen cache of that condition would hold before encoding (the same
    :class:`TestNoiser`, whose draws depend on the sample index only), without a second image store.
    Only the modalities the type corrupts are returned.
    """

    def __init__(self, features_dir: Path, ds: dict, glove_dir: Path, cond: NoiseCondition):
        data = load_split(features_dir, "train")
        self.images, self.texts, self.labels = data["images"], data["texts"], data["labels"]
        self.noiser = TestNoiser(cond, len(self.labels), self.texts, data["sizes"])
        self.corrupts = NOISE_DECLARATIONS[cond.noise_type].corrupts
        self.text_spec, self.glove_spec = ds["text_encoder_spec"], ds["glove_spec"]
        if "text" in self.corrupts:
            self.tokenizer = load_tokenizer(self.text_spec)
            self.glove = load_glove(glove_dir)

    def __len__(self) -> int:
        return len(self.labels)

    def nbytes(self) -> int:
        return 0  # nothing kept: each batch's rows are made from the store on the host

    def to_device(self, device: torch.device) -> CorruptedRows:
        return self

    def batch(self, idx: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        arrays = {}
        if "image" in self.corrupts:
            arrays["images"] = np.concatenate(
                [self.noiser.images(np.asarray(self.images[i : i + 1]), int(i)) for i in idx]
            )
        if "text" in self.corrupts:
            texts = [self.noiser.texts([self.texts[i]], int(i))[0] for i in idx]
            arrays.update(tokenize(self.tokenizer, texts, self.text_spec))
            vocab, vectors = self.glove
            arrays["bow"] = bag_of_words(texts, vocab, vectors, self.glove_spec, max_length(self.text_spec))
        return {key: torch.from_numpy(values).to(device) for key, values in arrays.items()}


def _on_host(values) -> np.ndarray:
    return values.cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


class NoisyTrainInputs:
    """The training split with its corrupted versions (one per (type, level) of ``train.noise``).

    ``versions``: (name for messages, inputs) pairs, each a :class:`SplitInputs` of a frozen cache or a
    :class:`CorruptedRows`, row for row the same samples as ``clean``.
    """

    def __init__(self, clean: SplitInputs, versions: list[tuple[str, SplitInputs | CorruptedRows]], probability):
        for name, version in versions:
            if len(version) != len(clean) or not np.array_equal(_on_host(version.labels), _on_host(clean.labels)):
                raise ValueError(
                    f"{name}: {len(version)} rows whose labels differ from the {len(clean)} of the clean train "
                    "split; it was made from other features: delete it and rerun the encode stage"
                )
        self.clean, self.versions, self.probability = clean, versions, probability
        self.arrays = clean.arrays  # what the model's input sizes are read from

    def __len__(self) -> int:
        return len(self.clean)

    def nbytes(self) -> int:
        return self.clean.nbytes() + sum(version.nbytes() for _, version in self.versions)

    def to_device(self, device: torch.device) -> NoisyTrainInputs:
        versions = [(name, version.to_device(device)) for name, version in self.versions]
        return NoisyTrainInputs(self.clean.to_device(device), versions, self.probability)

    def for_epoch(self, seed: int, epoch: int) -> _EpochInputs:
        return _EpochInputs(self, epoch_sources(seed, epoch, len(self), self.probability, len(self.versions)))


class _EpochInputs:
    """One epoch's batches: each row from the clean split or from the version drawn for it."""

    def __init__(self, inputs: NoisyTrainInputs, sources: np.ndarray):
        self.inputs, self.sources = inputs, sources

    def batch(self, idx: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        idx = np.asarray(idx, dtype=np.int64)
        out = self.inputs.clean.batch(idx, device)
        chosen = self.sources[idx]
        for k, (_, version) in enumerate(self.inputs.versions):
            rows = np.flatnonzero(chosen == k)
            if len(rows) == 0:
                continue
            at = torch.from_numpy(rows).to(device)
            for key, values in version.batch(idx[rows], device).items():
                if key not in ("labels", "index"):  # the sample's own, whichever version it comes from
                    out[key][at] = values
        return out


def on_device_if_it_fits(inputs: SplitInputs, device: torch.device) -> SplitInputs:
    """On a GPU with room for it, the split moves there once (uint8 images: 4x smaller than floats)."""
    if device.type != "cuda":
        return inputs
    free, _ = torch.cuda.mem_get_info(device)
    return inputs.to_device(device) if inputs.nbytes() <= DEVICE_MEMORY_SHARE * free else inputs


def frozen_inputs(cache_path: Path) -> SplitInputs:
    cache = load_cache(cache_path)
    return SplitInputs(
        {k: cache[k] for k in ("txt", "img", "bow", "input_ids", "attention_mask")},
        cache["labels"],
        cache["image_noised"],
        cache["text_noised"],
        cache.get("text_masked"),  # absent from caches encoded before it was kept
    )


def finetune_inputs(
    features_dir: Path, split: str, ds: dict, glove_dir: Path, cond: NoiseCondition | None = None
) -> SplitInputs:
    data = load_split(features_dir, split)
    images, texts, tokens = data["images"], data["texts"], data["tokens"]
    image_noised = text_noised = text_masked = None
    if cond is not None and cond.level > 0:
        noiser = TestNoiser(cond, len(texts), texts, data["sizes"])
        images = noiser.images(np.asarray(images), 0)
        texts = noiser.texts(texts, 0)
        tokens = tokenize(load_tokenizer(ds["text_encoder_spec"]), texts, ds["text_encoder_spec"])
        image_noised, text_noised, text_masked = noiser.image_noised, noiser.text_noised, noiser.text_masked
    vocab, vectors = load_glove(glove_dir)
    bow = bag_of_words(texts, vocab, vectors, ds["glove_spec"], max_length(ds["text_encoder_spec"]))
    return SplitInputs(
        {"images": images, "input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"], "bow": bow},
        data["labels"],
        image_noised,
        text_noised,
        text_masked,
    )
