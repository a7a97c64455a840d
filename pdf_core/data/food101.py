"""Train/dev/test splits of UPMC Food-101 from the Kaggle layout.

Raw layout (``raw_dir``, or its only sub-folder holding ``texts/``)::

    images/{train,test}/<class>/<file>.jpg
    texts/train_titles.csv     no header; columns: filename, title, class
    texts/test_titles.csv

Rows are ``{"id": "<class>_<file>", "label": class, "text": clean_title(title),
"img": "images/<split>/<class>/<file>"}`` in that key order; ``img`` is relative
to the dataset root (``report["root"]``). Test rows come from ``test_titles.csv``;
dev is ``options.get("dev_size", 5000)`` rows (an int, or a fraction < 1) drawn
from train, stratified by class, with ``random.Random(options.get("seed", 0))``;
train is the rest. Rows keep the csv order. ``options["rule"]``, if given, must be
``kaggle`` (the only rule). A filename listed twice in one csv keeps its first
row (counted in ``report["duplicates"]``). A header row is tolerated.

Text cleaning is MMBT's ``format_txt_file`` (facebookresearch/mmbt ``scripts/food_101.py``,
which made QMF's published jsonl): each character of ``<>/\\+=-_[]{}'";:.,()*&^%$#@!~`` and the
backtick becomes a space, every run of two or more whitespace characters becomes one space, the
result is lower-cased and any remaining newline becomes a space (``|`` is kept). Nothing is
stripped: a punctuation character or a space at either end of a title leaves one space there, as
in the published rows. A lone ``\r`` or tab is kept, as MMBT kept it. HTML entities are *not*
unescaped (``&amp;`` becomes `` amp ``).

Images are never opened: a row whose image file is absent is kept and counted
(``report["missing_images"]``). ``build_splits`` returns a :class:`Splits`: a
plain dict ``{"train", "dev", "test"} -> rows`` with a ``.report`` attribute.
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

__all__ = ["build_splits", "clean_title", "read_titles", "resolve_root", "stratified_pick", "Splits"]

_PUNCT = "<>/\\+=-_[]{}'\";:.,()*&^%$#@!~`"
_PUNCT_TABLE = str.maketrans({c: " " for c in _PUNCT})
_SPACE_RUNS = re.compile(r"\s\s+")
_HEADER_NAMES = {"filename", "file", "image", "image_path", "img", "path", "id"}


class Splits(dict):
    """``{"train": rows, "dev": rows, "test": rows}`` plus a ``report`` dict attribute."""

    def __init__(self, splits: dict[str, list[dict]], report: dict) -> None:
        super().__init__(splits)
        self.report = report


def clean_title(text: str) -> str:
    """MMBT's Food-101 text cleaning (see the module docstring)."""
    return _SPACE_RUNS.sub(" ", text.translate(_PUNCT_TABLE)).lower().replace("\n", " ")


def resolve_root(raw_dir: Path) -> Path:
    """The folder holding ``texts/train_titles.csv``: ``raw_dir`` or its only sub-folder that has it."""
    raw_dir = Path(raw_dir)
    marker = Path("texts") / "train_titles.csv"
    if (raw_dir / marker).is_file():
        return raw_dir
    found = [d for d in sorted(raw_dir.iterdir()) if d.is_dir() and (d / marker).is_file()] if raw_dir.is_dir() else []
    if len(found) == 1:
        return found[0]
    raise FileNotFoundError(
        f"UPMC Food-101: no {marker} in {raw_dir} (or in exactly one of its sub-folders); "
        f"run the download stage, or extract the Kaggle archive so that {raw_dir / marker} exists"
    )


def read_titles(path: Path) -> list[tuple[str, str, str]]:
    """``(filename, title, class)`` rows of a titles csv; a malformed row names file and line."""
    path = Path(path)
    rows: list[tuple[str, str, str]] = []
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            for record in reader:
                lineno = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                if not rows and len(record) == 3 and record[0].strip().lower() in _HEADER_NAMES:
                    continue  # tolerate a header row
                if len(record) != 3:
                    raise ValueError(
                        f"{path}:{lineno}: expected 3 columns (filename, title, class), got {len(record)}: {record!r}"
                    )
                filename, title, label = record[0].strip(), record[1], record[2].strip()
                if not filename or not label or "/" in filename or "/" in label or filename in {".", ".."}:
                    raise ValueError(f"{path}:{lineno}: empty or invalid filename/class in {record!r}")
                rows.append((filename, title, label))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid UTF-8 ({exc}); re-extract the original archive") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: malformed csv ({exc})") from None
    return rows


def stratified_pick(labels: list[str], size: int | float, seed: int) -> set[int]:
    """Indices of ``size`` items drawn per label in proportion (largest remainder), seeded."""
    n = len(labels)
    k = int(round(size * n)) if isinstance(size, float) and 0 < size < 1 else int(size)
    if not 0 <= k <= n:
        raise ValueError(f"dev_size {size!r} is out of range for {n} training rows")
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        by_label[lab].append(i)
    order = sorted(by_label)
    quotas = {lab: k * len(by_label[lab]) // n for lab in order} if n else {}
    rest = k - sum(quotas.values())
    # hand the remaining rows to the largest fractional parts (ties: label name)
    by_remainder = sorted(order, key=lambda lab: (-(k * len(by_label[lab]) % n), lab))
    for lab in by_remainder[:rest]:
        quotas[lab] += 1
    rng = random.Random(seed)
    picked: set[int] = set()
    for lab in order:
        picked.update(rng.sample(by_label[lab], quotas[lab]))
    return picked


def _rows(root: Path, split: str, records: list[tuple[str, str, str]], report: dict) -> list[dict]:
    rows, seen = [], set()
    for filename, title, label in records:
        sid = f"{label}_{filename}"
        if sid in seen:
            report["duplicates"][split] += 1
            continue
        seen.add(sid)
        rows.append(
            {"id": sid, "label": label, "text": clean_title(title), "img": f"images/{split}/{label}/{filename}"}
        )
    return rows


def build_splits(raw_dir: Path, options: dict | None = None) -> Splits:
    """Build ``{"train", "dev", "test"}`` row lists (see the module docstring)."""
    options = dict(options or {})
    if options.get("rule", "kaggle") != "kaggle":
        raise ValueError(f"UPMC Food-101: the only split rule is 'kaggle', got {options['rule']!r}")
    dev_size = options.get("dev_size", 5000)
    seed = int(options.get("seed", 0))
    root = resolve_root(raw_dir)
    report: dict = {
        "dataset": "food101",
        "root": str(root),
        "seed": seed,
        "dev_size": dev_size,
        "duplicates": {"train": 0, "test": 0},
    }
    train_all = _rows(root, "train", read_titles(root / "texts" / "train_titles.csv"), report)
    test_path = root / "texts" / "test_titles.csv"
    if not test_path.is_file():
        raise FileNotFoundError(f"UPMC Food-101: {test_path} is missing; re-extract the archive")
    test = _rows(root, "test", read_titles(test_path), report)

    picked = stratified_pick([r["label"] for r in train_all], dev_size, seed)
    splits = {
        "train": [r for i, r in enumerate(train_all) if i not in picked],
        "dev": [r for i, r in enumerate(train_all) if i in picked],
        "test": test,
    }
    missing = {s: [r["id"] for r in rows if not os.path.exists(root / r["img"])] for s, rows in splits.items()}
    report.update(
        {
            "rows": {s: len(r) for s, r in splits.items()},
            "classes": len({r["label"] for r in train_all}),
            "labels": {s: dict(sorted(Counter(r["label"] for r in rows).items())) for s, rows in splits.items()},
            "missing_images": {s: len(ids) for s, ids in missing.items()},
            "missing_image_ids": {s: ids[:20] for s, ids in missing.items()},
            "empty_text": {s: sum(not r["text"] for r in rows) for s, rows in splits.items()},
        }
    )
    return Splits(splits, report)
