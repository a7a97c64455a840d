"""Test-time noise protocol of QMF (ICML 2023): the original code's draws replayed (``parity.noise:
original``), or this project's per-sample draws (``project``).

Images are uint8 arrays H x W x 3: the stored square after Resize(image_size) (the paper adds noise
after Resize(256) and before CenterCrop(224)). Texts are plain strings.

The two side by side, and why there are two: docs/fidelity.md, "Test-time noise".

Beside the paper's two types, the wider suite (missing modality, ImageNet-C style image families, text
typos / dropout / swaps; :mod:`pdf_core.corruptions`) has no original to replay: under either choice it
draws as ``project`` does, per (eval seed, sample). The types are declared in :mod:`pdf_core.noise_types`
(what each corrupts, how often, which the original had) and implemented here; docs/noise.md describes
every one of them level by level.

Under both choices any chunking gives the same result.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pdf_core import corruptions
from pdf_core.features.images import center_offset
from pdf_core.noise_replay import Replay, base_seed, replay, salt_pepper_mask
from pdf_core.noise_types import NOISE_DECLARATIONS, half_when_noisy, severity
from pdf_core.parity import PARITY_CHOICES
from pdf_core.text import MASK_TOKEN

# Seed-key components. Stream ids are nonzero on purpose: numpy's SeedSequence treats a trailing 0 in
# an entropy list like a missing entry ([s, i] and [s, i, 0] give the same stream).
_STREAM_IMAGE = 1
_STREAM_TEXT = 2
_STREAM_FLAGS = 3

SALT_PEPPER_DENSITY = 0.1  # fraction of pixels hit, as in the original code


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(
            f"image must be a uint8 array of shape (H, W, C); got "
            f"{getattr(image, 'dtype', type(image))} with shape {getattr(image, 'shape', None)}"
        )


def _check_level(level: float) -> float:
    level = float(level)
    if not math.isfinite(level) or level < 0:
        raise ValueError(f"noise level must be a finite number >= 0, got {level!r}")
    return level


def _original_gaussian_noise(h: int, w: int, level: float) -> np.ndarray:
    # Same draws as the original `np.random.seed(0); np.random.normal(0, sigma, (h, w, 1))`,
    # but without touching numpy's global RNG state.
    return np.random.RandomState(0).normal(0.0, 10.0 * level, size=(h, w, 1))


def _apply_original_noise(images: np.ndarray, noise: np.ndarray) -> np.ndarray:
    # images: [..., H, W, C] uint8; noise: [H, W, 1], broadcast to all channels (same value per pixel).
    out = np.add(images, noise, dtype=np.float64)  # then in place: the encode stage runs this per noised image
    np.minimum(out, 255.0, out=out)  # the original clipped only the top
    # The original's uint8 cast of negative floats wraps; made explicit: truncate toward 0, then mod 256
    # (exact in float64 on these whole numbers, with Python's sign rule: -1 -> 255).
    np.trunc(out, out=out)
    np.mod(out, 256.0, out=out)
    return out.astype(np.uint8)


def gaussian_image_original(image: np.ndarray, level: float) -> np.ndarray:
    """Original QMF Gaussian noise: fixed pattern (RNG seed 0 on every call), top clip, negatives wrap."""
    _check_image(image)
    level = _check_level(level)
    h, w, _ = image.shape
    return _apply_original_noise(image, _original_gaussian_noise(h, w, level))


def gaussian_image_clipped(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise N(0, (10*level)^2) from ``rng``, same on all channels, rounded, clipped to [0, 255]."""
    _check_image(image)
    level = _check_level(level)
    h, w, _ = image.shape
    noise = rng.normal(0.0, 10.0 * level, size=(h, w, 1))
    out = np.rint(image.astype(np.float64) + noise)
    return np.clip(out, 0.0, 255.0).astype(np.uint8)


def salt_pepper_image(image: np.ndarray, rng, density: float = SALT_PEPPER_DENSITY) -> np.ndarray:
    """Set a ``density`` fraction of pixels to 0 (pepper, density/2) or 255 (salt, density/2).

    One uniform draw per pixel decides pepper / salt / keep, applied to all channels alike.
    ``rng`` may be a ``np.random.Generator`` or a ``np.random.RandomState``.
    """
    _check_image(image)
    density = float(density)
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density!r}")
    h, w, _ = image.shape
    u = rng.random((h, w))  # both Generator and RandomState provide .random(size)
    pepper = u < density / 2
    salt = (u >= density / 2) & (u < density)
    out = image.copy()
    out[pepper] = 0
    out[salt] = 255
    return out


def mask_text(text: str, prob: float, rng) -> str:
    """Replace each whitespace-separated word by "_" independently with probability ``prob``."""
    prob = float(prob)
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"mask probability must be in [0, 1], got {prob!r}")
    words = text.split()
    # One draw per word, even when prob is 0 or 1, so stream consumption depends only on word count.
    hits = rng.random(len(words)) < prob
    return " ".join(MASK_TOKEN if hit else word for word, hit in zip(words, hits, strict=True))


@dataclass(frozen=True)
class NoiseCondition:
    """One evaluation noise condition: type, level epsilon, eval seed, and whose draws (``parity.noise``)."""

    noise_type: str
    level: float
    eval_seed: int
    parity: str = "original"

    @property
    def replays_original(self) -> bool:
        """``parity.noise: original`` on a type the original code had: its draws are replayed
        (pdf_core.noise_replay)."""
        return self.parity == "original" and NOISE_DECLARATIONS[self.noise_type].paper

    def __post_init__(self) -> None:
        if self.noise_type not in NOISE_TYPES:
            raise ValueError(f"unknown noise_type {self.noise_type!r}; allowed: {', '.join(NOISE_TYPES)}")
        if self.parity not in PARITY_CHOICES:
            raise ValueError(f"unknown noise parity {self.parity!r}; allowed: {', '.join(PARITY_CHOICES)}")
        if isinstance(self.level, bool) or not isinstance(self.level, (int, float, np.integer, np.floating)):
            raise ValueError(f"noise level must be a number >= 0, got {self.level!r}")
        if not math.isfinite(self.level) or self.level < 0:
            raise ValueError(f"noise level must be a finite number >= 0, got {self.level!r}")
        if isinstance(self.eval_seed, bool) or not isinstance(self.eval_seed, (int, np.integer)) or self.eval_seed < 0:
            raise ValueError(f"eval_seed must be an integer >= 0, got {self.eval_seed!r}")


class TestNoiser:
    """Applies one noise condition to a test set of n samples, chunk by chunk, deterministically.

    Which samples are noised is fixed at construction (``image_noised``, ``text_noised``: a type that
    leaves a modality alone flags none of it); after :meth:`texts` has seen a sample, ``text_masked``
    says whether its text changed (a flagged text may keep every word). ``parity.noise: original`` replays
    the original evaluation of the paper's two types (:mod:`pdf_core.noise_replay`) and needs the test
    ``texts`` and the image ``sizes`` ([N, 2]: h, w after Resize, recorded by the features stage).
    ``project``, and the suite's types under either: each sample's noise comes from its own generator; ``word_swap``
    draws its words from the vocabulary of ``texts``.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, cond: NoiseCondition, n: int, texts: list[str] | None = None, sizes: np.ndarray | None = None):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        self.cond = cond
        self.n = int(n)
        level = float(cond.level)
        self.level = level
        self.word_prob = min(1.0, 0.1 * level)
        self.severity = severity(level)
        self.source_texts = None if texts is None else list(texts)
        self.text_masked = np.zeros(self.n, bool)
        self.sizes = None if sizes is None else np.asarray(sizes)
        self.replay: Replay | None = None
        if cond.replays_original:
            if texts is None or self.sizes is None:
                raise ValueError(
                    "parity.noise original replays the original evaluation and needs the test texts and each "
                    "image's size after Resize (samples.jsonl 'resized'): rerun the features stage, or set "
                    "parity.noise: project"
                )
            if len(texts) != self.n:
                raise ValueError(f"{len(texts)} texts for a test set of n={self.n} samples")
            self.replay = replay(cond.noise_type, level, list(texts), self.sizes, base_seed(cond.eval_seed))
            self.image_noised, self.text_noised = self.replay.image_noised, self.replay.text_noised
            return
        noise_type = NOISE_TYPES[cond.noise_type]
        p_image = noise_type.image_probability(level)
        p_text = noise_type.text_probability(level)
        rng = np.random.default_rng([cond.eval_seed, noise_type.seed_code, _STREAM_FLAGS])
        # Always draw both arrays in the same order so flags don't depend on which is used.
        u_image = rng.random(self.n)
        u_text = rng.random(self.n)
        self.image_noised = u_image < p_image
        self.text_noised = u_text < p_text

    def _check_range(self, start: int, count: int) -> None:
        if start < 0 or start + count > self.n:
            raise ValueError(f"chunk [{start}, {start + count}) is outside the test set of n={self.n} samples")

    def _sample_rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.cond.eval_seed, index, stream])

    @functools.cached_property
    def vocabulary(self) -> list[str]:
        """The distinct whitespace words of the split's texts, sorted (word swap draws from it)."""
        if self.source_texts is None:
            raise ValueError(
                f"noise type {self.cond.noise_type!r} draws words from the split's vocabulary: "
                "build the TestNoiser with the split's texts"
            )
        return sorted({word for text in self.source_texts for word in text.split()})

    def window(self, index: int, size: int) -> tuple[slice, slice]:
        """Rows and columns of sample ``index``'s resized image that its stored square of ``size`` holds."""
        h, w = (int(v) for v in self.sizes[index])
        top, left = center_offset(h, size), center_offset(w, size)
        return slice(top, top + size), slice(left, left + size)

    # -- public -------------------------------------------------------------------------------------
    def images(self, chunk: np.ndarray, start: int) -> np.ndarray:
        """Noise images ``chunk`` ([B, H, W, 3] uint8) of samples start..start+B-1; returns a new array."""
        if not isinstance(chunk, np.ndarray) or chunk.dtype != np.uint8 or chunk.ndim != 4:
            raise ValueError(
                f"chunk must be a uint8 array [B, H, W, C]; got {getattr(chunk, 'dtype', type(chunk))} "
                f"with shape {getattr(chunk, 'shape', None)}"
            )
        b = chunk.shape[0]
        self._check_range(start, b)
        out = chunk.copy()
        noise_images = NOISE_TYPES[self.cond.noise_type].noise_images
        if noise_images is not None:
            noise_images(self, out, self.image_noised[start : start + b], start)
        return out

    def texts(self, texts: list[str], start: int) -> list[str]:
        """Mask the texts of samples start..start+len(texts)-1; returns a new list."""
        texts = list(texts)
        b = len(texts)
        self._check_range(start, b)
        if self.replay is not None:
            out = self.replay.texts[start : start + b]
        else:
            out = list(texts)
            noise_text = NOISE_TYPES[self.cond.noise_type].noise_text
            for j in np.flatnonzero(self.text_noised[start : start + b]):
                out[j] = noise_text(self, texts[j], self._sample_rng(start + int(j), _STREAM_TEXT))
        self.text_masked[start : start + b] = [new != old for new, old in zip(out, texts, strict=True)]
        return out


# -- the noise types ------------------------------------------------------------------------------------
ImageNoise = Callable[[TestNoiser, np.ndarray, np.ndarray, int], None]  # (noiser, chunk, flags, start), in place
TextNoise = Callable[[TestNoiser, str, np.random.Generator], str]  # (noiser, text, its generator) -> noised text


def _gaussian_images(noiser: TestNoiser, out: np.ndarray, flags: np.ndarray, start: int) -> None:
    if noiser.replay is not None:
        # the original's pattern for the whole resized image, cut to the part the store holds
        patterns: dict[tuple[int, int], np.ndarray] = {}
        for j in np.flatnonzero(flags):
            i = start + int(j)
            h, w = (int(v) for v in noiser.sizes[i])
            if (h, w) not in patterns:
                patterns[h, w] = _original_gaussian_noise(h, w, noiser.level)
            rows, cols = noiser.window(i, out.shape[1])
            out[j] = _apply_original_noise(out[j], patterns[h, w][rows, cols])
        return
    for j in np.flatnonzero(flags):
        out[j] = gaussian_image_clipped(out[j], noiser.level, noiser._sample_rng(start + int(j), _STREAM_IMAGE))


def _salt_pepper_images(noiser: TestNoiser, out: np.ndarray, flags: np.ndarray, start: int) -> None:
    for j in np.flatnonzero(flags):
        i = start + int(j)
        if noiser.replay is None:
            out[j] = salt_pepper_image(out[j], noiser._sample_rng(i, _STREAM_IMAGE), SALT_PEPPER_DENSITY)
            continue
        # the original's mask over the whole resized image, cut to the part the store holds
        h, w = (int(v) for v in noiser.sizes[i])
        rows, cols = noiser.window(i, out.shape[1])
        mask = salt_pepper_mask(noiser.replay.salt_pepper_states[i], h, w)[rows, cols]
        out[j][mask == 0] = 0
        out[j][mask == 1] = 255


# -- the wider suite (seeded per sample under either parity.noise) ------------------------------------------
def _deterministic_images(corrupt: Callable[[np.ndarray, int], np.ndarray]) -> ImageNoise:
    """The flagged images of a chunk corrupted together by ``corrupt(images, severity)``, which draws nothing."""

    def noise_images(noiser: TestNoiser, out: np.ndarray, flags: np.ndarray, start: int) -> None:
        hit = np.flatnonzero(flags)
        if len(hit):
            out[hit] = corrupt(out[hit], noiser.severity)

    return noise_images


def _missing_images(noiser: TestNoiser, out: np.ndarray, flags: np.ndarray, start: int) -> None:
    out[flags] = corruptions.missing(out[flags])


def _occluded_images(noiser: TestNoiser, out: np.ndarray, flags: np.ndarray, start: int) -> None:
    for j in np.flatnonzero(flags):
        out[j] = corruptions.occlude(out[j], noiser.severity, noiser._sample_rng(start + int(j), _STREAM_IMAGE))


def _masked_words(noiser: TestNoiser, text: str, rng: np.random.Generator) -> str:
    return mask_text(text, noiser.word_prob, rng)


def _missing_text(noiser: TestNoiser, text: str, rng: np.random.Generator) -> str:
    return ""


def _typos(noiser: TestNoiser, text: str, rng: np.random.Generator) -> str:
    return corruptions.char_typos(text, corruptions.WORD_RATE[noiser.severity - 1], rng)


def _dropped_words(noiser: TestNoiser, text: str, rng: np.random.Generator) -> str:
    return corruptions.drop_words(text, corruptions.WORD_RATE[noiser.severity - 1], rng)


def _swapped_words(noiser: TestNoiser, text: str, rng: np.random.Generator) -> str:
    return corruptions.swap_words(text, corruptions.WORD_RATE[noiser.severity - 1], noiser.vocabulary, rng)


def _never(level: float) -> float:
    return 0.0


@dataclass(frozen=True)
class NoiseType:
    """One noise type: how often and how it corrupts each modality (None: it leaves that modality alone)."""

    seed_code: int  # part of every seed key of this type: never reuse one
    image_probability: Callable[[float], float]  # level -> probability that a test image is noised
    noise_images: ImageNoise | None  # (noiser, chunk, flags, start), in place
    text_probability: Callable[[float], float] = half_when_noisy  # level -> probability that a text is noised
    noise_text: TextNoise | None = _masked_words  # (noiser, text, its generator) -> the noised text


# Each declared type's image and text corruption (pdf_core.noise_types declares what it corrupts).
_IMPLEMENTATIONS: dict[str, tuple[ImageNoise | None, TextNoise | None]] = {
    "gaussian": (_gaussian_images, _masked_words),
    "salt_pepper": (_salt_pepper_images, _masked_words),
    "missing_image": (_missing_images, None),
    "missing_text": (None, _missing_text),
    "gaussian_blur": (_deterministic_images(corruptions.gaussian_blur), None),
    "jpeg": (_deterministic_images(corruptions.jpeg), None),
    "brightness": (_deterministic_images(corruptions.brightness), None),
    "contrast": (_deterministic_images(corruptions.contrast), None),
    "occlusion": (_occluded_images, None),
    "char_typos": (None, _typos),
    "word_dropout": (None, _dropped_words),
    "word_swap": (None, _swapped_words),
}


def _registry() -> dict[str, NoiseType]:
    if list(_IMPLEMENTATIONS) != list(NOISE_DECLARATIONS):
        raise ImportError(
            f"pdf_core/noise.py implements {list(_IMPLEMENTATIONS)} but pdf_core/noise_types.py declares "
            f"{list(NOISE_DECLARATIONS)}: give every declared type its implementation, in the same order"
        )
    registry = {}
    for name, declared in NOISE_DECLARATIONS.items():
        noise_images, noise_text = _IMPLEMENTATIONS[name]
        implemented = (noise_images is not None, noise_text is not None)
        if implemented != (declared.image_rate is not None, declared.text_rate is not None):
            raise ImportError(f"noise type {name!r}: pdf_core/noise.py and noise_types.py disagree on what it corrupts")
        registry[name] = NoiseType(
            declared.seed_code, declared.image_rate or _never, noise_images, declared.text_rate or _never, noise_text
        )
    return registry


# The registry of noise types (names from pdf_core.noise_types): the CLI choices and the Snakemake
# wildcard constraint come from its keys.
NOISE_TYPES: dict[str, NoiseType] = _registry()
