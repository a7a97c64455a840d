"""Split building: raw labels + texts -> ``{train,dev,test}.jsonl``. Never opens images.

Each dataset kind has a builder ``build_splits(raw_dir, options) -> {split: rows}``; rows are
``{"id", "label", "text", "img"}`` with ``img`` relative to the dataset root (:func:`dataset_root`).
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from pathlib import Path

from pdf_core.io_utils import write_jsonl
from pdf_core.paths import SPLITS

log = logging.getLogger(__name__)

# The registry of dataset kinds: kind -> module with build_splits(raw_dir, options) and, for real data,
# resolve_root(raw_dir). A kind is declared here once, as a plain literal: the schema's `datasets.*.kind` enum
# is read from it (pdf_core.config.dataset_kinds), and its module names make the code dependency scan
# (pdf_core/codedeps.py) count each dataset module as code of the stages that import this one.
DATASET_KINDS = {
    "synthetic": "pdf_core.data.synthetic",
    "mvsa_single": "pdf_core.data.mvsa",
    "food101": "pdf_core.data.food101",
    "table": "pdf_core.data.table",
}


class Splits(dict):
    """``{"train": rows, "dev": rows, "test": rows}`` plus a ``report`` dict attribute."""

    def __init__(self, splits: dict[str, list[dict]], report: dict) -> None:
        super().__init__(splits)
        self.report = report


def existing_root(kind: str, raw_dir: str | Path) -> Path | None:
    """The dataset root if the data is already in ``raw_dir`` (placed by hand or downloaded), else None."""
    module = importlib.import_module(DATASET_KINDS[kind])
    if not hasattr(module, "resolve_root"):
        return Path(raw_dir)
    try:
        return module.resolve_root(Path(raw_dir))
    except FileNotFoundError:
        return None


def dataset_root(kind: str, raw_dir: str | Path, extracted_name: str | None = None) -> Path:
    """The folder the split rows' ``img`` paths are relative to.

    Real datasets may sit in ``raw_dir`` itself or in ``raw_dir/<extracted_name>`` (after a download).
    """
    root = existing_root(kind, raw_dir)
    if root is not None:
        return root
    return Path(raw_dir) / extracted_name if extracted_name else Path(raw_dir)


def check_rows(rows_by_split: dict[str, list[dict]], where: str) -> None:
    """Refuse duplicate ids and rows missing a field, naming the split and row."""
    seen: dict[str, tuple[str, int]] = {}
    for split, rows in rows_by_split.items():
        for i, row in enumerate(rows):
            for key in ("id", "label", "text", "img"):
                if key not in row:
                    raise ValueError(f"{where}: {split} row {i} has no {key!r}")
            if row["id"] in seen:
                first_split, first_row = seen[row["id"]]
                raise ValueError(
                    f"{where}: duplicate id {row['id']!r} in {first_split} row {first_row} and "
                    f"{split} row {i}; each sample must appear once: remove or rename one of them "
                    f"in the raw labels and rebuild the splits"
                )
            seen[row["id"]] = (split, i)


def build_splits(kind: str, raw_dir: str | Path, out_dir: str | Path, options: dict | None = None) -> dict[str, int]:
    """Build and write the three splits; returns the row count per split."""
    if kind not in DATASET_KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}; known: {', '.join(DATASET_KINDS)}")
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.exists():
        raise FileNotFoundError(
            f"{raw_dir}: raw data not found; run `python -m pdf_core download` "
            f"(or `generate` for the synthetic dataset) first"
        )
    builder = importlib.import_module(DATASET_KINDS[kind]).build_splits
    rows_by_split = builder(raw_dir, dict(options or {}))
    check_rows(rows_by_split, str(raw_dir))
    counts = {}
    for split in SPLITS:
        write_jsonl(out_dir / f"{split}.jsonl", rows_by_split[split])
        counts[split] = len(rows_by_split[split])
        log.info(
            "%s: %d rows, classes %s", split, counts[split], dict(Counter(r["label"] for r in rows_by_split[split]))
        )
    return counts
