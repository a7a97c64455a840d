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


def resize_center_square(img: Image.Image, size: int) -> np.ndarray:
    """Resize the short side to ``size`` (bilinear, as torchvision's Resize) and centre-crop a square."""
    w, h = img.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def load_image(path: Path, size: int, report: ImageReport) -> np.ndarray | None:
    """The stored form of one image, or None with the problem counted in ``report``."""
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

    Returns the kept rows in store order and the report. Two passes: decode to learn which rows
    survive (so the memmap has its final size), then write; images are small enough to hold.
    """
    report = ImageReport()
    kept_rows, arrays = [], []
    for i, row in enumerate(tqdm(rows, desc=f"images {where}", unit="img", mininterval=2)):
        path = image_root / row["img"]
        before = sum(report.problems.values())
        arr = load_image(path, size, report)
        if arr is None:
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
            arr = np.full((size, size, 3), PLACEHOLDER_GREY, dtype=np.uint8)
        kept_rows.append(row)
        arrays.append(arr)
    with atomic_path(out_path, suffix=".npy") as tmp:
        store = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(arrays), size, size, 3))
        for i, arr in enumerate(arrays):
            store[i] = arr
        store.flush()
        del store
    return kept_rows, report
