"""Decode, validate and resize every image once into a memory-mapped uint8 store.

The store holds the image *after* ``Resize(image_size)`` (short side) and a centre crop to a
square of ``image_size``: the paper applies test-time noise at exactly this point (after
Resize(256), before CenterCrop(224)), and the crop to ``crop_size`` happens at load time.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from pdf_core.io_utils import atomic_path

log = logging.getLogger(__name__)
PLACEHOLDER_GREY = 128  # the original code substituted a grey image for missing files


class ImageError(ValueError):
    """An image cannot be used and the policy is ``error``."""


@dataclass
class ImageReport:
    problems: Counter = field(default_factory=Counter)  # missing / zero_bytes / undecodable
    converted_modes: Counter = field(default_factory=Counter)  # L, CMYK, P, RGBA ... -> RGB
    format_mismatch: int = 0  # e.g. a PNG named .jpg (decoded fine, counted)
    placeholders: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "problems": dict(self.problems),
            "converted_modes": dict(self.converted_modes),
            "format_mismatch": self.format_mismatch,
            "placeholders": len(self.placeholders),
            "dropped": len(self.dropped),
            "placeholder_ids": self.placeholders[:50],
            "dropped_ids": self.dropped[:50],
        }


def resized_hw(w: int, h: int, size: int) -> tuple[int, int]:
    """(height, width) after torchvision's ``Resize(size)``: short side ``size``, long side truncated."""
    if w <= h:
        return int(size * h / w), size
    return size, int(size * w / h)


def center_offset(length: int, size: int) -> int:
    """Start of a centred window of ``size`` in ``length``, rounded as torchvision's CenterCrop.

    Half-way cases round to even, so the store's square (offset from the resized image) followed by
    the load-time crop starts where the original's CenterCrop(224) did whenever (size - crop) / 2 is
    even (256 / 224: 16).
    """
    return int(round((length - size) / 2.0))


def resize_center_square(img: Image.Image, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize as torchvision's ``Resize(size)`` (bilinear) and centre-crop a square; also the resized (h, w)."""
    h, w = resized_hw(*img.size, size)
    if (w, h) != img.size:
        img = img.resize((w, h), Image.BILINEAR)
    left, top = center_offset(w, size), center_offset(h, size)
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8), (h, w)


def load_image(path: Path, size: int, report: ImageReport) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The stored form of one image and its resized (h, w), or None with the problem counted in ``report``."""
    if not path.exists():
        report.problems["missing"] += 1
        return None
    if path.stat().st_size == 0:
        report.problems["zero_bytes"] += 1
        return None
    try:
        with Image.open(path) as img:
            img.load()
            expected = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}.get(path.suffix.lower())
            if expected and img.format != expected:
                report.format_mismatch += 1
            if img.mode != "RGB":
                report.converted_modes[img.mode] += 1
                img = img.convert("RGB")
            return resize_center_square(img, size)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        report.problems["undecodable"] += 1
        return None


def build_image_store(
    rows: list[dict], image_root: Path, out_path: Path, size: int, policy: str, where: str
) -> tuple[list[dict], ImageReport]:
    """Write ``out_path`` (uint8 [N, size, size, 3]) for the rows kept under ``policy``.

    Returns the kept rows in store order, each with ``resized``: its image's [h, w] after
    ``Resize(size)`` (a placeholder: [size, size], as the original's 256 x 256 grey image), and the
    report. Two passes: decode to learn which rows
    survive (so the memmap has its final size), then write; images are small enough to hold.
    """
    report = ImageReport()
    kept_rows, arrays = [], []
    for i, row in enumerate(tqdm(rows, desc=f"images {where}", unit="img", mininterval=2)):
        path = image_root / row["img"]
        before = sum(report.problems.values())
        loaded = load_image(path, size, report)
        if loaded is None:
            problem = next(k for k, v in report.problems.items() if v)  # any key; refined below
            problem = [k for k in report.problems][-1] if sum(report.problems.values()) > before else problem
            if policy == "error":
                raise ImageError(
                    f"{where} row {i} (id {row['id']!r}): image {path} is unusable ({problem}). Fix or restore the "
                    f"file, or set features.image_policy to 'placeholder' or 'drop' in params.yaml"
                )
            if policy == "drop":
                report.dropped.append(row["id"])
                continue
            report.placeholders.append(row["id"])
            loaded = np.full((size, size, 3), PLACEHOLDER_GREY, dtype=np.uint8), (size, size)
        arr, (h, w) = loaded
        kept_rows.append(dict(row, resized=[h, w]))
        arrays.append(arr)
    with atomic_path(out_path, suffix=".npy") as tmp:
        store = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(arrays), size, size, 3))
        for i, arr in enumerate(arrays):
            store[i] = arr
        store.flush()
        del store
    return kept_rows, report
