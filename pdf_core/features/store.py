"""The features stage: per split, the uint8 image store, token ids and sample table.

Layout under ``data/features/<dataset>/``::

    <split>/images.npy      uint8 [N, S, S, 3], memory-mapped at load
    <split>/tokens.npz      input_ids / attention_mask of the dataset's text encoder (in parity.token_layout)
    <split>/samples.jsonl   id, label, text, resized ([h, w] after Resize(image_size)) of each stored row
    classes.json            label names; index = class id
    data_report.json        counts per class and split, images fixed or dropped, text encodings
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from pdf_core.data.splits import SPLITS
from pdf_core.features.encoders import load_tokenizer, tokenize
from pdf_core.features.images import build_image_store
from pdf_core.io_utils import atomic_path, read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)


def _text_kind(text: str) -> str:
    if not text.strip():
        return "empty"
    return "ascii" if text.isascii() else "non_ascii"


def build_features(
    splits_dir: Path, raw_dir: Path, out_dir: Path, text_spec: dict, image_size: int, image_policy: str
) -> dict:
    splits_dir, raw_dir, out_dir = Path(splits_dir), Path(raw_dir), Path(out_dir)
    rows_by_split = {split: read_jsonl(splits_dir / f"{split}.jsonl") for split in SPLITS}
    classes = sorted({row["label"] for row in rows_by_split["train"]})
    class_ids = {c: i for i, c in enumerate(classes)}
    tokenizer = load_tokenizer(text_spec)
    report: dict = {"classes": classes, "splits": {}}
    for split, rows in rows_by_split.items():
        where = f"{splits_dir / split}.jsonl"
        for i, row in enumerate(rows):
            if row["label"] not in class_ids:
                raise ValueError(
                    f"{where}:{i + 1} (id {row['id']!r}): label {row['label']!r} is not in the training "
                    f"label set {classes}; fix the split or rebuild it"
                )
        kept, image_report = build_image_store(
            rows, raw_dir, out_dir / split / "images.npy", image_size, image_policy, where
        )
        texts = [row["text"] for row in kept]
        with atomic_path(out_dir / split / "tokens.npz", suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **tokenize(tokenizer, texts, text_spec))
        write_jsonl(
            out_dir / split / "samples.jsonl",
            ({"id": r["id"], "label": class_ids[r["label"]], "text": r["text"], "resized": r["resized"]} for r in kept),
        )
        report["splits"][split] = {
            "rows_in_split": len(rows),
            "rows_stored": len(kept),
            "per_class": dict(sorted(Counter(r["label"] for r in kept).items())),
            "images": image_report.as_dict(),
            "texts": dict(Counter(_text_kind(t) for t in texts)),
        }
        log.info(
            "%s: stored %d/%d rows; image problems %s",
            split,
            len(kept),
            len(rows),
            dict(image_report.problems) or "none",
        )
    write_json(out_dir / "classes.json", classes)
    write_json(out_dir / "data_report.json", report)
    return report


def load_split(features_dir: Path, split: str) -> dict:
    """The stored inputs of one split: images (memmap), tokens, labels, ids, texts, sizes ([N, 2] h, w)."""
    split_dir = Path(features_dir) / split
    samples = read_jsonl(split_dir / "samples.jsonl")
    with np.load(split_dir / "tokens.npz") as tok:
        tokens = {k: tok[k] for k in tok.files}
    return {
        "images": np.load(split_dir / "images.npy", mmap_mode="r"),
        "tokens": tokens,
        "labels": np.array([s["label"] for s in samples], dtype=np.int64),
        "ids": [s["id"] for s in samples],
        "texts": [s["text"] for s in samples],
        # the image sizes after Resize (paper-mode noise replays them); None in a store built before they were kept
        "sizes": np.array([s["resized"] for s in samples], dtype=np.int64)
        if all("resized" in s for s in samples)
        else None,
    }
