"""Any text-image dataset already on disk as one table of samples (dataset kind ``table``).

Raw layout (``raw_dir``, the data folder; nothing is downloaded)::

    <options["file"]>   e.g. samples.csv; the format comes from the suffix: .csv, .tsv or .jsonl
    ...                 the images, anywhere inside raw_dir

Columns (the header line of a csv/tsv, the keys of each jsonl object): ``text``, ``image`` (a path
relative to the table's folder), ``label``, and optionally ``id`` and ``split`` (``train``, ``dev`` or
``test``); other columns are ignored. Without an ``id`` column a row's id is its image path. Without a
``split`` column the rows are split per label in ``options["fractions"]`` (train, dev, test) with
``random.Random(options["seed"])``: both keys are then required, no default is assumed.

One label per row: multi-label data is out of scope, and a label that looks like a list (``[a, b]``,
``a,b``, ``a;b``, ``a|b``, a jsonl list) is refused. Labels are strings (a jsonl integer ``3`` is the
label ``"3"``), so the classes are sorted as strings, as for every kind (``"10"`` before ``"2"``).

Every error names the file, the line (1-based, counted as an editor counts the file's lines) and the
column, and says what to change. Images are never opened here: a missing image is counted in
``report["missing_images"]`` and left to the features stage's ``image_policy``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import random
from collections import Counter
from pathlib import Path, PurePosixPath, PureWindowsPath

from pdf_core.data.splits import Splits
from pdf_core.paths import SPLITS

__all__ = ["build_splits", "resolve_root", "read_table", "stratified_split"]

RULE = "table"  # the only split rule: the table's split column, else seeded stratified fractions
REQUIRED_COLUMNS = ("text", "image", "label")
OPTIONAL_COLUMNS = ("id", "split")
DELIMITERS = {".csv": ",", ".tsv": "\t"}  # .jsonl: one JSON object per line
LIST_SEPARATORS = (",", ";", "|")


class TableError(ValueError):
    """The table (or its options) cannot be used; the message names file, line and column."""


def resolve_root(raw_dir: Path) -> Path:
    """The data folder itself: the table's image paths are resolved inside it."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise FileNotFoundError(
            f"{raw_dir}: the data folder of a table dataset does not exist; put the table and its images "
            f"there, or point datasets.<name>.raw_dir at the folder that holds them"
        )
    return raw_dir


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # a byte-order mark (spreadsheet exports) is dropped
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TableError(f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x}); save the table as UTF-8") from None


def _read_delimited(path: Path, delimiter: str) -> tuple[list[str], list[tuple[int, dict]]]:
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    records: list[tuple[int, dict]] = []
    try:
        while True:
            start = reader.line_num + 1  # the line the next record starts on (a quoted field may span lines)
            fields = next(reader, None)
            if fields is None:
                break
            if not any(f.strip() for f in fields):
                continue
            if header is None:
                header = [f.strip() for f in fields]
                repeated = sorted(name for name, n in Counter(header).items() if n > 1)
                if repeated:
                    raise TableError(f"{path}:{start}: the header names column {repeated[0]!r} twice; rename one")
                continue
            if len(fields) != len(header):
                raise TableError(
                    f"{path}:{start}: {len(fields)} fields where the header has {len(header)}; "
                    f"quote a field that contains {delimiter!r} or a line break"
                )
            records.append((start, dict(zip(header, fields, strict=True))))
    except csv.Error as exc:
        raise TableError(f"{path}:{reader.line_num}: malformed {path.suffix[1:]} ({exc})") from None
    return header or [], records


def _read_jsonl(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    records: list[tuple[int, dict]] = []
    columns: dict[str, None] = {}
    for line, text in enumerate(_decode(path).split("\n"), start=1):  # lines as an editor counts them
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TableError(f"{path}:{line}: not valid JSON ({exc.msg}); one JSON object per line") from None
        if not isinstance(record, dict):
            raise TableError(f"{path}:{line}: expected a JSON object, got {type(record).__name__}")
        columns.update(dict.fromkeys(record))
        records.append((line, record))
    return list(columns), records


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """The column names and ``(line, record)`` pairs of a csv / tsv / jsonl table."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*DELIMITERS, ".jsonl"):
        raise TableError(f"{path}: unknown table format {suffix!r}; use a .csv, .tsv or .jsonl file")
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: table not found; put it there or set datasets.<name>.split.file to its name inside raw_dir"
        )
    columns, records = _read_jsonl(path) if suffix == ".jsonl" else _read_delimited(path, DELIMITERS[suffix])
    if not records:
        raise TableError(
            f"{path}: the table has no rows; it needs a header line (csv/tsv) and one row per sample "
            f"with columns {', '.join(REQUIRED_COLUMNS)}"
        )
    if suffix != ".jsonl":
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise TableError(
                f"{path}:1: no column {missing[0]!r} in the header (columns: {', '.join(columns)}); "
                f"the table needs {', '.join(REQUIRED_COLUMNS)}, optionally {', '.join(OPTIONAL_COLUMNS)}"
            )
    return columns, records


def _string(path: Path, line: int, record: dict, column: str, allow_int: bool = False) -> str:
    """``record[column]`` as a string; a jsonl value of the wrong type or a missing key is an error."""
    if column not in record:
        raise TableError(f"{path}:{line}: column {column!r} is missing from this row; every row needs it")
    value = record[column]
    if isinstance(value, list) and column == "label":
        raise TableError(
            f"{path}:{line}: column 'label' holds a list {value!r}; multi-label data is not supported, "
            f"give each row exactly one label"
        )
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        kind = "a string or an integer" if allow_int else "a string"
        raise TableError(f"{path}:{line}: column {column!r} must be {kind}, got {value!r}")
    return value


def _label(path: Path, line: int, record: dict) -> str:
    label = _string(path, line, record, "label", allow_int=True).strip()
    if not label:
        raise TableError(f"{path}:{line}: column 'label' is empty; every row needs one label")
    if (label.startswith("[") and label.endswith("]")) or any(sep in label for sep in LIST_SEPARATORS):
        raise TableError(
            f"{path}:{line}: column 'label' is {label!r}, which looks like a list of labels; multi-label data "
            f"is not supported: give each row one label (a single label must not contain "
            f"{' '.join(LIST_SEPARATORS)} or be in brackets: rename it)"
        )
    return label


def _image(path: Path, line: int, record: dict, table_folder: str) -> str:
    """The image path relative to the data folder; refused when it is absolute or leaves the folder."""
    value = _string(path, line, record, "image").strip()
    if not value:
        raise TableError(f"{path}:{line}: column 'image' is empty; give the image path relative to {path.parent}")
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).drive:
        raise TableError(
            f"{path}:{line}: column 'image' is the absolute path {value!r}; give it relative to {path.parent}, "
            f"with the image inside the data folder (raw_dir), so that the dataset can move as one folder"
        )
    relative = posixpath.normpath(posixpath.join(table_folder, value))
    if relative == ".." or relative.startswith("../"):
        raise TableError(
            f"{path}:{line}: column 'image' is {value!r}, which leaves the data folder; move the image into "
            f"the folder that holds the table (or point raw_dir at a folder that contains both)"
        )
    return relative


def _check_file_option(raw_dir: Path, options: dict) -> str:
    name = options.get("file")
    if not name:
        raise TableError(f"{raw_dir}: a table dataset needs split.file, the name of its csv/tsv/jsonl file in raw_dir")
    relative = posixpath.normpath(str(PurePosixPath(name)))
    if PurePosixPath(relative).is_absolute() or relative == ".." or relative.startswith("../"):
        raise TableError(f"split.file {name!r} must be a path inside raw_dir ({raw_dir})")
    return relative


def stratified_split(labels: list[str], fractions: list[float], seed: int) -> list[str]:
    """The split of each row: per label, ``int(n * f + 0.5)`` rows each to test and dev, the rest to train.

    The rows of a label are shuffled with one ``random.Random(seed)`` (labels in sorted order); a label
    always keeps at least one training row, so every class of dev/test is known to the model.
    """
    _, f_dev, f_test = fractions
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    assigned = [""] * len(labels)
    for label in sorted(by_label):
        rows = by_label[label]
        rng.shuffle(rows)
        n = len(rows)
        n_test = min(int(n * f_test + 0.5), n - 1)
        n_dev = min(int(n * f_dev + 0.5), n - 1 - n_test)
        for k, i in enumerate(rows):
            assigned[i] = "test" if k < n_test else "dev" if k < n_test + n_dev else "train"
    return assigned


def _split_options(path: Path, options: dict) -> tuple[list[float], int]:
    missing = [key for key in ("fractions", "seed") if key not in options]
    if missing:
        raise TableError(
            f"{path}: the table has no 'split' column, so it is split by split.fractions with split.seed; "
            f"set split.{missing[0]} (e.g. fractions: [0.6, 0.2, 0.2], seed: 0) or add a split column"
        )
    fractions = [float(f) for f in options["fractions"]]
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6 or fractions[0] <= 0:
        raise TableError(
            f"split.fractions {options['fractions']!r}: give three fractions (train, dev, test), each >= 0, "
            f"train > 0, summing to 1"
        )
    return fractions, int(options["seed"])


def build_splits(raw_dir: Path, options: dict | None = None) -> Splits:
    """Build ``{"train", "dev", "test"}`` row lists from the table (see the module docstring)."""
    options = dict(options or {})
    if options.get("rule", RULE) != RULE:
        raise TableError(f"a table dataset has one split rule, {RULE!r}; got split.rule {options['rule']!r}")
    root = resolve_root(raw_dir)
    file = _check_file_option(root, options)
    path = root / file
    table_folder = posixpath.dirname(file)
    columns, records = read_table(path)
    has_split = "split" in columns

    rows, splits_given, first_line = [], [], {}
    for line, record in records:
        text = _string(path, line, record, "text")
        label = _label(path, line, record)
        img = _image(path, line, record, table_folder)
        sid = _string(path, line, record, "id", allow_int=True).strip() if "id" in columns else img
        if not sid:
            raise TableError(f"{path}:{line}: column 'id' is empty; give every row a unique id")
        if sid in first_line:
            hint = "" if "id" in columns else " (rows without an id column are named by their image; add an id column)"
            raise TableError(
                f"{path}:{line}: id {sid!r} is also on line {first_line[sid]}; each sample must appear once: "
                f"remove or rename one of them{hint}"
            )
        first_line[sid] = line
        if has_split:
            split = _string(path, line, record, "split").strip()
            if split not in SPLITS:
                what = "is empty" if not split else f"is {split!r}"
                raise TableError(
                    f"{path}:{line}: column 'split' {what}; give one of {', '.join(SPLITS)} "
                    f"(or remove the column to split by split.fractions)"
                )
            splits_given.append(split)
        rows.append({"id": sid, "label": label, "text": text, "img": img})

    if has_split:
        assigned, fractions, seed = splits_given, None, None
    else:
        fractions, seed = _split_options(path, options)
        assigned = stratified_split([r["label"] for r in rows], fractions, seed)

    train_labels = {r["label"] for r, s in zip(rows, assigned, strict=True) if s == "train"}
    for (line, _), row, split in zip(records, rows, assigned, strict=True):
        if row["label"] not in train_labels:
            raise TableError(
                f"{path}:{line}: column 'label' is {row['label']!r} in {split}, but no train row has this label, "
                f"so no model can learn it; move a row of it to train or drop the label"
            )
    splits = {s: [r for r, a in zip(rows, assigned, strict=True) if a == s] for s in SPLITS}
    empty = [s for s in SPLITS if not splits[s]]
    if empty:
        fix = "give some rows that split" if has_split else "add rows or raise its fraction"
        raise TableError(f"{path}: the {empty[0]} split has no rows ({len(rows)} rows in all); {fix}")

    missing = {s: [r["id"] for r in rs if not os.path.exists(root / r["img"])] for s, rs in splits.items()}
    report = {
        "dataset": "table",
        "root": str(root),
        "file": file,
        "split_from": "column" if has_split else "fractions",
        "fractions": fractions,
        "seed": seed,
        "rows": {s: len(rs) for s, rs in splits.items()},
        "classes": len(train_labels),
        "labels": {s: dict(sorted(Counter(r["label"] for r in rs).items())) for s, rs in splits.items()},
        "missing_images": {s: len(ids) for s, ids in missing.items()},
        "missing_image_ids": {s: ids[:20] for s, ids in missing.items()},
        "empty_text": {s: sum(not r["text"].strip() for r in rs) for s, rs in splits.items()},
    }
    return Splits(splits, report)
