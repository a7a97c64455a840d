"""Train/dev/test splits of MVSA-Single from its raw layout.

Raw layout (the download's ``MVSA_Single/`` folder; ``raw_dir`` may point at it
or at its parent)::

    labelResultAll.txt     header "ID<TAB>text,image", then "<id><TAB><text label>,<image label>"
    data/<id>.txt          tweet text, raw bytes (UTF-8, GBK or other)
    data/<id>.jpg          image (never opened here)

Split rules (``options["rule"]``):

``qmf`` (default)
    The published QMF split, byte for byte: the rows whose text label equals the
    image label, in file order; ``random.seed(0); random.shuffle(ids)``; train =
    first ``int(0.6*n)``, dev = up to ``int(0.8*n)``, test = the rest. The seed is
    fixed at 0 (``options["seed"]`` is ignored for this rule).
``merged``
    The common MVSA rule: equal labels keep that label, one neutral takes the
    other label, positive vs negative is dropped (4,511 ids on the full data).
    Stratified 60/20/20 per label with ``random.Random(options.get("seed", 0))``.

Text (``options["text_decoding"]``): ``latin-1`` (default, faithful to QMF: every
byte maps to one character) or ``auto`` (UTF-8, else GBK, else latin-1). Only
one trailing newline is removed.

Rows are ``{"id", "label", "text", "img": "data/<id>.jpg"}`` in that key order;
``img`` is relative to the dataset root (``report["root"]``). ``build_splits``
returns a :class:`Splits`: a plain dict ``{"train", "dev", "test"} -> rows`` with
a ``.report`` attribute (counts per split and label, text encodings found,
images present); :func:`text_encoding_counts` gives the encodings on their own.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "build_splits",
    "text_encoding_counts",
    "read_labels",
    "resolve_root",
    "decode_text",
    "detect_encoding",
    "Splits",
    "LABELS",
]

LABELS = ("positive", "neutral", "negative")
LABEL_FILE = "labelResultAll.txt"
TOP_FOLDER = "MVSA_Single"
RULES = ("qmf", "merged")
DECODINGS = ("latin-1", "auto")


class Splits(dict):
    """``{"train": rows, "dev": rows, "test": rows}`` plus a ``report`` dict attribute."""

    def __init__(self, splits: dict[str, list[dict]], report: dict) -> None:
        super().__init__(splits)
        self.report = report


def resolve_root(raw_dir: Path) -> Path:
    """The folder holding ``labelResultAll.txt``: ``raw_dir`` or ``raw_dir/MVSA_Single``."""
    raw_dir = Path(raw_dir)
    for cand in (raw_dir, raw_dir / TOP_FOLDER):
        if (cand / LABEL_FILE).is_file():
            return cand
    raise FileNotFoundError(
        f"MVSA-Single: no {LABEL_FILE} in {raw_dir} or {raw_dir / TOP_FOLDER}; "
        f"run the download stage, or put the extracted MVSA_Single folder at {raw_dir / TOP_FOLDER}"
    )


def read_labels(root: Path) -> list[tuple[str, str, str]]:
    """``(id, text_label, image_label)`` for every row of ``labelResultAll.txt``, in file order.

    A malformed row is a ``ValueError`` naming the file and the line.
    """
    path = Path(root) / LABEL_FILE
    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    expected = "expected '<id><TAB><text label>,<image label>' with labels positive/neutral/negative"
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.decode("latin-1").rstrip("\r\n")
            if not line.strip():
                continue
            if lineno == 1 and line.lower().startswith("id"):
                continue  # header "ID\ttext,image"
            fields = line.split("\t")
            if len(fields) != 2:
                raise ValueError(f"{path}:{lineno}: malformed label row {line!r}: {expected}")
            sid, labels = fields[0].strip(), fields[1].strip().split(",")
            if not sid.isdigit():
                raise ValueError(f"{path}:{lineno}: id {sid!r} is not a number: {expected}")
            if len(labels) != 2 or any(lab.strip() not in LABELS for lab in labels):
                raise ValueError(f"{path}:{lineno}: malformed labels {fields[1]!r}: {expected}")
            if sid in seen:
                raise ValueError(f"{path}:{lineno}: id {sid} appears twice in {LABEL_FILE}")
            seen.add(sid)
            rows.append((sid, labels[0].strip(), labels[1].strip()))
    return rows


def detect_encoding(raw: bytes) -> str:
    """``ascii``, ``utf-8``, ``gbk`` or ``latin-1``: the first strict decoder that accepts ``raw``."""
    if raw.isascii():
        return "ascii"
    for enc in ("utf-8", "gbk"):
        try:
            raw.decode(enc)
            return enc
        except UnicodeDecodeError:
            pass
    return "latin-1"


def decode_text(raw: bytes, text_decoding: str = "latin-1") -> str:
    """Decode a tweet file and remove one trailing newline."""
    if text_decoding == "latin-1":
        text = raw.decode("latin-1")
    elif text_decoding == "auto":
        enc = detect_encoding(raw)
        text = raw.decode("utf-8" if enc == "ascii" else enc)
    else:
        raise ValueError(f"text_decoding must be one of {DECODINGS}, got {text_decoding!r}")
    return text[:-1] if text.endswith("\n") else text


def _read_text_bytes(root: Path, sid: str) -> bytes:
    path = root / "data" / f"{sid}.txt"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"MVSA-Single: {path} is missing but id {sid} is listed in {root / LABEL_FILE}; "
            f"the raw folder is incomplete: extract the archive again"
        ) from None


def text_encoding_counts(raw_dir: Path, ids: Iterable[str] | None = None) -> dict[str, int]:
    """How many text files :func:`detect_encoding` finds in each encoding (all ids by default)."""
    root = resolve_root(raw_dir)
    if ids is None:
        ids = [sid for sid, _, _ in read_labels(root)]
    counts = Counter(detect_encoding(_read_text_bytes(root, sid)) for sid in ids)
    return dict(sorted(counts.items()))


def _merged_label(text_label: str, image_label: str) -> str | None:
    if text_label == image_label:
        return text_label
    if text_label == "neutral":
        return image_label
    if image_label == "neutral":
        return text_label
    return None  # positive vs negative


def _cut(n: int) -> tuple[int, int]:
    return int(0.6 * n), int(0.8 * n)


def build_splits(raw_dir: Path, options: dict | None = None) -> Splits:
    """Build ``{"train", "dev", "test"}`` row lists (see the module docstring)."""
    options = dict(options or {})
    rule = options.get("rule", "qmf")
    text_decoding = options.get("text_decoding", "latin-1")
    seed = int(options.get("seed", 0))
    if rule not in RULES:
        raise ValueError(f"MVSA-Single: options['rule'] must be one of {RULES}, got {rule!r}")
    if text_decoding not in DECODINGS:
        raise ValueError(f"MVSA-Single: options['text_decoding'] must be one of {DECODINGS}, got {text_decoding!r}")
    root = resolve_root(raw_dir)
    label_rows = read_labels(root)

    if rule == "qmf":
        labels = {sid: t for sid, t, i in label_rows if t == i}
        ids = list(labels)
        random.Random(0).shuffle(ids)  # same stream as random.seed(0); random.shuffle(ids)
        a, b = _cut(len(ids))
        split_ids = {"train": ids[:a], "dev": ids[a:b], "test": ids[b:]}
    else:
        labels = {}
        for sid, t, i in label_rows:
            merged = _merged_label(t, i)
            if merged is not None:
                labels[sid] = merged
        rng = random.Random(seed)
        split_ids = {"train": [], "dev": [], "test": []}
        for label in LABELS:
            group = [sid for sid in labels if labels[sid] == label]
            rng.shuffle(group)
            a, b = _cut(len(group))
            split_ids["train"] += group[:a]
            split_ids["dev"] += group[a:b]
            split_ids["test"] += group[b:]
        for ids_ in split_ids.values():
            rng.shuffle(ids_)

    encodings: Counter = Counter()
    splits: dict[str, list[dict]] = {}
    for split, ids_ in split_ids.items():
        rows = []
        for sid in ids_:
            raw = _read_text_bytes(root, sid)
            encodings[detect_encoding(raw)] += 1
            rows.append(
                {"id": sid, "label": labels[sid], "text": decode_text(raw, text_decoding), "img": f"data/{sid}.jpg"}
            )
        splits[split] = rows

    report = {
        "dataset": "mvsa_single",
        "root": str(root),
        "rule": rule,
        "seed": 0 if rule == "qmf" else seed,
        "text_decoding": text_decoding,
        "label_file_rows": len(label_rows),
        "kept": len(labels),
        "dropped": len(label_rows) - len(labels),
        "rows": {s: len(r) for s, r in splits.items()},
        "labels": {s: dict(sorted(Counter(row["label"] for row in r).items())) for s, r in splits.items()},
        "text_encodings": dict(sorted(encodings.items())),
        "images_present": {s: sum(os.path.exists(root / row["img"]) for row in r) for s, r in splits.items()},
    }
    return Splits(splits, report)
