"""The corruption families of the wider noise suite, as pure functions of images or one text.

Each family has five severities (ImageNet-C's 1..5; :func:`pdf_core.noise_types.severity` maps the
grid's levels onto them) and one parameter per severity in the tables below. Images are uint8 arrays
[B, H, W, 3], the stored square before the crop; the image operations are torchvision's
(``transforms.v2.functional``) and PIL's JPEG codec. :mod:`pdf_core.noise` decides which samples are
corrupted and seeds each one's generator; docs/noise.md has the table of every type.
"""

from __future__ import annotations

import io
import string

import numpy as np

from pdf_core.features.images import PLACEHOLDER_GREY

# ImageNet-C (Hendrycks & Dietterich 2019, `make_imagenet_c.py`) parameters, index = severity - 1
BLUR_SIGMA = (1.0, 2.0, 3.0, 4.0, 6.0)  # gaussian_blur, in pixels of a 224-pixel image
BLUR_REFERENCE_SIDE = 224  # the sigmas scale with the stored side, so a severity blurs the same share of the image
BLUR_TRUNCATE = 4.0  # kernel radius in sigmas, as skimage.filters.gaussian (ImageNet-C's blur) truncates
JPEG_QUALITY = (25, 18, 15, 10, 7)  # jpeg_compression
CONTRAST_FACTOR = (0.4, 0.3, 0.2, 0.1, 0.05)  # contrast: blend towards the mean grey level
# ImageNet-C brightness adds c = 0.1..0.5 to the HSV value; torchvision's brightness multiplies, and
# 1 + 2c gives the same change at mid-grey (0.5 -> 0.5 + c)
BRIGHTNESS_FACTOR = (1.2, 1.4, 1.6, 1.8, 2.0)
# not in ImageNet-C: one box, side a share of the image side (area 4 % .. 36 %), black
OCCLUSION_SIDE = (0.2, 0.3, 0.4, 0.5, 0.6)
OCCLUSION_FILL = 0
# text families: the share of a corrupted text's words that a typo, dropout or swap hits
WORD_RATE = (0.1, 0.2, 0.3, 0.4, 0.5)

TYPO_KINDS = ("insert", "delete", "swap", "keyboard")
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")  # QWERTY, each row shifted right of the one above


def _parameter(table: tuple, severity: int):
    if not 1 <= severity <= len(table):
        raise ValueError(f"severity must be 1..{len(table)}, got {severity!r}")
    return table[severity - 1]


def _check_images(images: np.ndarray) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(
            f"images must be a uint8 array [B, H, W, 3]; got {getattr(images, 'dtype', type(images))} "
            f"with shape {getattr(images, 'shape', None)}"
        )


def _torch_op(images: np.ndarray, op) -> np.ndarray:
    """``op`` on the batch as torchvision lays it out ([B, 3, H, W] uint8), back to [B, H, W, 3]."""
    import torch

    _check_images(images)
    batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return op(batch).permute(0, 2, 3, 1).contiguous().numpy()


def blur_sigma(severity: int, side: int) -> float:
    return _parameter(BLUR_SIGMA, severity) * side / BLUR_REFERENCE_SIDE


def gaussian_blur(images: np.ndarray, severity: int) -> np.ndarray:
    """torchvision's Gaussian blur, sigma = BLUR_SIGMA scaled to the image side, radius 4 sigma (reflect padding)."""
    from torchvision.transforms.v2 import functional as F

    sigma = blur_sigma(severity, min(images.shape[1:3]))
    kernel = 2 * int(BLUR_TRUNCATE * sigma + 0.5) + 1
    return _torch_op(images, lambda batch: F.gaussian_blur(batch, [kernel, kernel], [sigma, sigma]))


def jpeg(images: np.ndarray, severity: int) -> np.ndarray:
    """Each image encoded and decoded by PIL's JPEG codec at quality JPEG_QUALITY (PIL's default 4:2:0 chroma)."""
    from PIL import Image

    _check_images(images)
    quality = _parameter(JPEG_QUALITY, severity)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        with Image.open(buffer) as decoded:
            out[i] = np.asarray(decoded.convert("RGB"))
    return out


def brightness(images: np.ndarray, severity: int) -> np.ndarray:
    """torchvision's ``adjust_brightness``: each value times BRIGHTNESS_FACTOR, clipped at 255, truncated."""
    from torchvision.transforms.v2 import functional as F

    factor = _parameter(BRIGHTNESS_FACTOR, severity)
    return _torch_op(images, lambda batch: F.adjust_brightness(batch, factor))


def contrast(images: np.ndarray, severity: int) -> np.ndarray:
    """torchvision's ``adjust_contrast``: each image blended towards its mean grey level, weight CONTRAST_FACTOR."""
    from torchvision.transforms.v2 import functional as F

    factor = _parameter(CONTRAST_FACTOR, severity)
    return _torch_op(images, lambda batch: F.adjust_contrast(batch, factor))


def occlude(image: np.ndarray, severity: int, rng) -> np.ndarray:
    """One black box of side OCCLUSION_SIDE x the image's sides, placed uniformly inside the image."""
    _check_images(image[None])
    h, w, _ = image.shape
    share = _parameter(OCCLUSION_SIDE, severity)
    box_h, box_w = max(1, round(share * h)), max(1, round(share * w))
    top = int(rng.integers(0, h - box_h + 1))
    left = int(rng.integers(0, w - box_w + 1))
    out = image.copy()
    out[top : top + box_h, left : left + box_w] = OCCLUSION_FILL
    return out


def missing(images: np.ndarray) -> np.ndarray:
    """What the store holds for an image file that is missing (features.image_policy placeholder): flat grey."""
    _check_images(images)
    return np.full_like(images, PLACEHOLDER_GREY)


# -- text ---------------------------------------------------------------------------------------------


def keyboard_neighbours() -> dict[str, str]:
    """Each letter's neighbours on a QWERTY keyboard: left and right, and the touching keys above and below."""
    out = {}
    for r, row in enumerate(KEYBOARD_ROWS):
        for c, key in enumerate(row):
            near = [row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)]
            # a row is shifted right of the one above: key c touches c and c+1 above, c-1 and c below
            if r > 0:
                near += [KEYBOARD_ROWS[r - 1][i] for i in (c, c + 1) if i < len(KEYBOARD_ROWS[r - 1])]
            if r + 1 < len(KEYBOARD_ROWS):
                near += [KEYBOARD_ROWS[r + 1][i] for i in (c - 1, c) if 0 <= i < len(KEYBOARD_ROWS[r + 1])]
            out[key] = "".join(sorted(near))
    return out


NEIGHBOURS = keyboard_neighbours()


def typo_kinds(word: str) -> tuple[str, ...]:
    """The typos ``word`` admits: deleting or swapping needs two characters, a keyboard slip a letter."""
    kinds = ["insert"]
    if len(word) >= 2:
        kinds += ["delete", "swap"]
    if any(ch.lower() in NEIGHBOURS for ch in word):
        kinds.append("keyboard")
    return tuple(kinds)


def typo(word: str, kind: str, rng) -> str:
    """One typo of ``kind`` at a uniform position of ``word`` (a keyboard slip keeps the letter's case)."""
    if kind not in typo_kinds(word):
        raise ValueError(f"typo {kind!r} does not apply to {word!r}; it admits {', '.join(typo_kinds(word))}")
    if kind == "insert":
        pos = int(rng.integers(0, len(word) + 1))
        return word[:pos] + string.ascii_lowercase[int(rng.integers(0, 26))] + word[pos:]
    if kind == "delete":
        pos = int(rng.integers(0, len(word)))
        return word[:pos] + word[pos + 1 :]
    if kind == "swap":
        pos = int(rng.integers(0, len(word) - 1))
        return word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
    letters = [i for i, ch in enumerate(word) if ch.lower() in NEIGHBOURS]
    pos = letters[int(rng.integers(0, len(letters)))]
    near = NEIGHBOURS[word[pos].lower()]
    slip = near[int(rng.integers(0, len(near)))]
    return word[:pos] + (slip.upper() if word[pos].isupper() else slip) + word[pos + 1 :]


def _hits(words: list[str], rate: float, rng) -> np.ndarray:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"word rate must be in [0, 1], got {rate!r}")
    return rng.random(len(words)) < rate  # one draw per word, hit or not


def char_typos(text: str, rate: float, rng) -> str:
    """Each whitespace word, with probability ``rate``, gets one typo, its kind uniform among those the word admits."""
    words = text.split()
    out = []
    for word, hit in zip(words, _hits(words, rate, rng), strict=True):
        if hit:
            kinds = typo_kinds(word)
            word = typo(word, kinds[int(rng.integers(0, len(kinds)))], rng)
        out.append(word)
    return " ".join(out)


def drop_words(text: str, rate: float, rng) -> str:
    """Each whitespace word removed with probability ``rate``."""
    words = text.split()
    return " ".join(word for word, hit in zip(words, _hits(words, rate, rng), strict=True) if not hit)


def swap_words(text: str, rate: float, vocabulary: list[str], rng) -> str:
    """Each whitespace word, with probability ``rate``, replaced by a word drawn uniformly from ``vocabulary``."""
    if not vocabulary:
        raise ValueError("word swap needs a non-empty vocabulary to draw replacement words from")
    words = text.split()
    hits = _hits(words, rate, rng)
    picks = rng.integers(0, len(vocabulary), size=len(words))  # drawn for every word, as the hits
    return " ".join(vocabulary[p] if hit else word for word, hit, p in zip(words, hits, picks, strict=True))
