"""Test-time noise protocol of QMF (ICML 2023), in a paper-faithful and a corrected mode.

Images are uint8 arrays H x W x 3: the stored image after Resize(256) and a 256 x 256 center crop
(the paper adds noise after Resize(256) and before CenterCrop(224)). Texts are plain strings.

=====================  ==========================================  ===========================================
                       ``paper`` (original code)                   ``corrected``
=====================  ==========================================  ===========================================
Gaussian, level e      p = 0.5 per image; N(0, (10e)^2) per pixel,  p = 0.5 per image; independent noise per
                       same on all channels; RNG re-seeded to 0     image from (eval_seed, sample index);
                       on every call, so every image of one size    rounded and clipped to [0, 255] on both
                       gets the SAME pattern; > 255 clipped, < 0    sides
                       WRAPS (uint8 cast of negatives)
Salt & pepper, e       p = 0.5 * e / 10 per image; 10 % of pixels   same, noise seeded per image
                       set to 0 / 255; one sequential RNG stream
Text, e > 0            p = 0.5 per sample; each word -> "_" with    same, noise seeded per sample
                       prob 0.1 * e; one sequential RNG stream
Order / chunking       chunks must come in index order (streams     any order, any chunking: same result
                       are consumed sample by sample)
=====================  ==========================================  ===========================================

Why two modes: ``paper`` reproduces the published numbers, including two defects of the original code
(one fixed Gaussian pattern for all images, and wrap-around of negative pixel values, which turns dark
pixels bright). ``corrected`` removes them and makes noise a pure function of (condition, sample index),
so evaluation can be chunked or parallelised freely.

Which samples are noised is decided up front from the eval seed, identically in both modes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NOISE_MODES = ("paper", "corrected")

# Seed-key components. Stream ids are nonzero on purpose: numpy's SeedSequence treats a trailing 0 in
# an entropy list like a missing entry ([s, i] and [s, i, 0] give the same stream).
_STREAM_IMAGE = 1
_STREAM_TEXT = 2
_STREAM_FLAGS = 3
_PAPER_TAG = 0x9A9E  # separates the paper-mode stream seeds from the corrected-mode keys

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


def _paper_gaussian_noise(h: int, w: int, level: float) -> np.ndarray:
    # Same draws as the original `np.random.seed(0); np.random.normal(0, sigma, (h, w, 1))`,
    # but without touching numpy's global RNG state.
    return np.random.RandomState(0).normal(0.0, 10.0 * level, size=(h, w, 1))


def _apply_paper_noise(images: np.ndarray, noise: np.ndarray) -> np.ndarray:
    # images: [..., H, W, C] uint8; noise: [H, W, 1], broadcast to all channels (same value per pixel).
    out = images.astype(np.float64) + noise
    out = np.minimum(out, 255.0)  # the original clipped only the top
    # The original's uint8 cast of negative floats wraps; made explicit: truncate toward 0, then mod 256.
    return (np.trunc(out).astype(np.int64) % 256).astype(np.uint8)


def gaussian_image_paper(image: np.ndarray, level: float) -> np.ndarray:
    """Original QMF Gaussian noise: fixed pattern (RNG seed 0 on every call), top clip, negatives wrap."""
    _check_image(image)
    level = _check_level(level)
    h, w, _ = image.shape
    return _apply_paper_noise(image, _paper_gaussian_noise(h, w, level))


def gaussian_image_corrected(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
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
    return " ".join("_" if hit else word for word, hit in zip(words, hits, strict=True))


@dataclass(frozen=True)
class NoiseCondition:
    """One evaluation noise condition: type, level epsilon, eval seed and mode."""

    noise_type: str
    level: float
    eval_seed: int
    mode: str = "paper"

    def __post_init__(self) -> None:
        if self.noise_type not in NOISE_TYPES:
            raise ValueError(f"unknown noise_type {self.noise_type!r}; allowed: {', '.join(NOISE_TYPES)}")
        if self.mode not in NOISE_MODES:
            raise ValueError(f"unknown noise mode {self.mode!r}; allowed: {', '.join(NOISE_MODES)}")
        if isinstance(self.level, bool) or not isinstance(self.level, (int, float, np.integer, np.floating)):
            raise ValueError(f"noise level must be a number >= 0, got {self.level!r}")
        if not math.isfinite(self.level) or self.level < 0:
            raise ValueError(f"noise level must be a finite number >= 0, got {self.level!r}")
        if isinstance(self.eval_seed, bool) or not isinstance(self.eval_seed, (int, np.integer)) or self.eval_seed < 0:
            raise ValueError(f"eval_seed must be an integer >= 0, got {self.eval_seed!r}")


class TestNoiser:
    """Applies one noise condition to a test set of n samples, chunk by chunk, deterministically.

    Which samples are noised is fixed at construction (``image_noised``, ``text_noised``).
    Paper mode: salt & pepper and text masking each use ONE sequential stream consumed in sample
    order, so chunks must be passed in index order (start=0 restarts the stream); images() and
    texts() have separate streams, so their relative order does not matter.
    Corrected mode: each sample's noise comes from its own generator, so any order/chunking works.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, cond: NoiseCondition, n: int):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        self.cond = cond
        self.n = int(n)
        level = float(cond.level)
        self.level = level
        self.word_prob = min(1.0, 0.1 * level)

        noise_type = NOISE_TYPES[cond.noise_type]
        p_image = noise_type.image_probability(level)
        p_text = 0.5 if level > 0 else 0.0

        rng = np.random.default_rng([cond.eval_seed, noise_type.seed_code, _STREAM_FLAGS])
        # Always draw both arrays in the same order so flags don't depend on which is used.
        u_image = rng.random(self.n)
        u_text = rng.random(self.n)
        self.image_noised = u_image < p_image
        self.text_noised = u_text < p_text

        self._reset_stream("image")
        self._reset_stream("text")

    # -- paper-mode sequential streams ------------------------------------------------------------
    def _reset_stream(self, which: str) -> None:
        sid = _STREAM_IMAGE if which == "image" else _STREAM_TEXT
        seed = int(np.random.SeedSequence([self.cond.eval_seed, _PAPER_TAG, sid]).generate_state(1)[0])
        setattr(self, f"_{which}_stream", np.random.RandomState(seed))
        setattr(self, f"_{which}_pos", 0)

    def _paper_stream(self, which: str, start: int, count: int):
        pos = getattr(self, f"_{which}_pos")
        if start == 0 and pos != 0:
            self._reset_stream(which)  # a new pass over the test set
        elif start != pos:
            raise ValueError(
                f"paper mode consumes one sequential {which} noise stream: expected the chunk starting at "
                f"index {pos}, got start={start} (pass chunks in index order, or restart from 0)"
            )
        setattr(self, f"_{which}_pos", start + count)
        return getattr(self, f"_{which}_stream")

    def _check_range(self, start: int, count: int) -> None:
        if start < 0 or start + count > self.n:
            raise ValueError(f"chunk [{start}, {start + count}) is outside the test set of n={self.n} samples")

    def _sample_rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.cond.eval_seed, index, stream])

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
        NOISE_TYPES[self.cond.noise_type].noise_images(self, out, self.image_noised[start : start + b], start)
        return out

    def texts(self, texts: list[str], start: int) -> list[str]:
        """Mask the texts of samples start..start+len(texts)-1; returns a new list."""
        texts = list(texts)
        b = len(texts)
        self._check_range(start, b)
        paper = self.cond.mode == "paper"
        stream = self._paper_stream("text", start, b) if paper else None
        out = list(texts)
        for j in np.flatnonzero(self.text_noised[start : start + b]):
            rng = stream if paper else self._sample_rng(start + int(j), _STREAM_TEXT)
            out[j] = mask_text(texts[j], self.word_prob, rng)
        return out


# -- the noise types ------------------------------------------------------------------------------------
def _gaussian_images(noiser: TestNoiser, out: np.ndarray, flags: np.ndarray, start: int) -> None:
    if noiser.cond.mode == "paper":
        if flags.any():  # the same fixed pattern for every image of this size: computed once
            _, h, w, _ = out.shape
            out[flags] = _apply_paper_noise(out[flags], _paper_gaussian_noise(h, w, noiser.level))
        return
    for j in np.flatnonzero(flags):
        out[j] = gaussian_image_corrected(out[j], noiser.level, noiser._sample_rng(start + int(j), _STREAM_IMAGE))


def _salt_pepper_images(noiser: TestNoiser, out: np.ndarray, flags: np.ndarray, start: int) -> None:
    paper = noiser.cond.mode == "paper"
    # paper mode: the stream advances over every chunk, flagged samples or not
    stream = noiser._paper_stream("image", start, len(out)) if paper else None
    for j in np.flatnonzero(flags):
        rng = stream if paper else noiser._sample_rng(start + int(j), _STREAM_IMAGE)
        out[j] = salt_pepper_image(out[j], rng, SALT_PEPPER_DENSITY)


@dataclass(frozen=True)
class NoiseType:
    """One image noise type. Text masking is the same for every type (module docstring)."""

    seed_code: int  # part of every seed key of this type: never reuse one
    image_probability: Callable[[float], float]  # level -> probability that a test image is noised
    noise_images: Callable[[TestNoiser, np.ndarray, np.ndarray, int], None]  # (noiser, chunk, flags, start), in place


# The registry of noise types: the schema's `grid.noise_types` enum, the CLI choices and the
# Snakemake wildcard constraint all come from its keys.
NOISE_TYPES: dict[str, NoiseType] = {
    "gaussian": NoiseType(1, lambda level: 0.5 if level > 0 else 0.0, _gaussian_images),
    "salt_pepper": NoiseType(2, lambda level: min(1.0, 0.5 * level / 10.0), _salt_pepper_images),
}
