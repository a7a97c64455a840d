"""Decode, validate and resize every image once into a memory-mapped uint8 store.

The store holds the image *after* ``Resize(image_size)`` (short side) and a centre crop to a
square of ``image_size``: the paper applies test-time noise at exactly this point (after
Resize(256), before CenterCrop(224)), and the crop to ``crop_size`` happens at load time.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from pdf_core.io_utils import atomic_path

log = logging.getLogger(__name__)
PLACEHOLDER_GREY = 128  # the original code substituted a grey image for missing files
# A JPEG larger than this is decoded at a reduced DCT scale (``draft``), still at least the Resize target,
# so its memory stays small. Smaller ones are decoded whole, as the original did: their stored pixels
# are unchanged. 4096 x 4096 RGB is 48 MiB.
DRAFT_ABOVE_PIXELS = 4096 * 4096
# PIL cannot decode a PNG (or any format but JPEG) at a reduced size, so a file of more pixels than PIL's
# decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, 89,478,485: about 256 MiB as RGB) is refused
# as ``too_large`` before any pixel is decoded, whatever its format.
DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)
LOGGED_PROBLEMS = 20  # per split, the first unusable images are logged one by one


class ImageError(ValueError):
    """An image cannot be used and the policy is ``error``."""


class UnusableImage(Exception):
    """One image cannot be stored: ``problem`` is its report key (missing, zero_bytes, undecodable, too_large)."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem


@dataclass
class ImageReport:
    problems: Counter = field(default_factory=Counter)  # missing / zero_bytes / undecodable / too_large
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


def resize_center_square(
    img: Image.Image, size: int, source_size: tuple[int, int] | None = None
) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize as torchvision's ``Resize(size)`` (bilinear) and centre-crop a square; also the resized (h, w).

    ``source_size`` is the file's (w, h) when ``img`` was decoded at a reduced scale: the target size
    is that of the full image, as the original computed it.
    """
    h, w = resized_hw(*(source_size or img.size), size)
    if (w, h) != img.size:
        img = img.resize((w, h), Image.BILINEAR)
    left, top = center_offset(w, size), center_offset(h, size)
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8), (h, w)


def _open(path: Path) -> Image.Image:
    """``Image.open`` with PIL's decompression-bomb warning raised as an error: a file over its pixel limit
    is refused from its header, before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise UnusableImage("too_large", f"{exc} (the limit is PIL's Image.MAX_IMAGE_PIXELS)") from None


def load_image(path: Path, size: int, report: ImageReport) -> tuple[np.ndarray, tuple[int, int]]:
    """The stored form of one image and its resized (h, w); mode conversions and format mismatches are
    counted in ``report``. Raises :class:`UnusableImage` for an image that cannot be stored."""
    if not path.exists():
        raise UnusableImage("missing", "no such file")
    if path.stat().st_size == 0:
        raise UnusableImage("zero_bytes", "the file is empty")
    try:
        with _open(path) as img:
            source_size = img.size
            if img.format == "JPEG" and img.width * img.height > DRAFT_ABOVE_PIXELS:
                h, w = resized_hw(*source_size, size)
                img.draft(img.mode, (w, h))
            img.load()
            expected = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}.get(path.suffix.lower())
            if expected and img.format != expected:
                report.format_mismatch += 1
            if img.mode != "RGB":
                report.converted_modes[img.mode] += 1
                img = img.convert("RGB")
            return resize_center_square(img, size, source_size)
    except DECODE_ERRORS as exc:
        raise UnusableImage("undecodable", f"{type(exc).__name__}: {exc}") from None


def build_image_store(
    rows: list[dict], image_root: Path, out_path: Path, size: int, policy: str, where: str
) -> tuple[list[dict], ImageReport]:
    """Write ``out_path`` (uint8 [N, size, size, 3]) for the rows kept under ``policy``.

    ``where`` is the split file the rows were read from, one row per line. Returns the kept rows in
    store order, each with ``resized``: its image's [h, w] after ``Resize(size)`` (a placeholder:
    [size, size], as the original's 256 x 256 grey image), and the report. An unusable image is
    counted under its problem; with policy ``error`` it stops the stage, naming file, line, id and path.
    Two passes: decode to learn which rows survive (so the memmap has its final size), then write;
    images are small enough to hold.
    """
    report = ImageReport()
    kept_rows, arrays = [], []
    for i, row in enumerate(tqdm(rows, desc=f"images {where}", unit="img", mininterval=2)):
        path = image_root / row["img"]
        try:
            arr, (h, w) = load_image(path, size, report)
        except UnusableImage as exc:
            report.problems[exc.problem] += 1
            unusable = f"{where}:{i + 1} (id {row['id']!r}): image {path} is unusable ({exc})"
            if policy == "error":
                raise ImageError(
                    f"{unusable}. Fix or restore the file, or set features.image_policy to 'placeholder' or "
                    f"'drop' in params.yaml"
                ) from None
            unusable_so_far = sum(report.problems.values())
            if unusable_so_far <= LOGGED_PROBLEMS:
                log.warning("%s; %s", unusable, "row dropped" if policy == "drop" else "grey placeholder stored")
            elif unusable_so_far == LOGGED_PROBLEMS + 1:
                log.warning("%s: more unusable images; data_report.json counts them all", where)
            if policy == "drop":
                report.dropped.append(row["id"])
                continue
            report.placeholders.append(row["id"])
            arr, (h, w) = np.full((size, size, 3), PLACEHOLDER_GREY, dtype=np.uint8), (size, size)
        kept_rows.append(dict(row, resized=[h, w]))
        arrays.append(arr)
    with atomic_path(out_path, suffix=".npy") as tmp:
        store = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(arrays), size, size, 3))
        for i, arr in enumerate(arrays):
            store[i] = arr
        store.flush()
        del store
    return kept_rows, report
