"""Crash-safe file writing and small readers shared by every stage.

Every output is written to a temporary file in the destination directory and
then renamed over the target, so a job killed at any moment leaves either the
old file or the new one, never a half-written file that Snakemake or DVC would
take as complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pdf_core.faults import failpoint


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files 0600; a finished output gets the mode any other tool would give it
FILE_MODE = 0o666 & ~_current_umask()
DIR_MODE = 0o777 & ~_current_umask()  # mkdtemp makes directories 0700


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path next to ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, FILE_MODE)
        failpoint("before_rename")  # test hook: a kill here leaves only the temp file
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temp directory next to ``target``; on success it replaces ``target`` whole.

    A kill leaves the old directory, or none, plus the temp: never a directory with part of the new files.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        for path in sorted(tmp.rglob("*")):
            if path.is_file():
                with open(path, "rb+") as fh:
                    os.fsync(fh.fileno())
        os.chmod(tmp, DIR_MODE)
        failpoint("before_rename")  # test hook: a kill here leaves the old directory and the temp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_temps(directory: str | os.PathLike, names: Iterable[str]) -> None:
    """Delete the temps :func:`atomic_path` / :func:`atomic_dir` left for ``names`` when a process was killed
    mid-write.

    Only for names that one job owns (Snakemake runs one job per output), at that job's start.
    """
    for name in names:
        for stale in Path(directory).glob(f".{name}.*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
            else:
                stale.unlink(missing_ok=True)


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | os.PathLike, obj: Any) -> None:
    write_text(target, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_jsonl(target: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Write rows as ``json.dumps(row) + "\\n"`` (the layout of the published QMF splits)."""
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a jsonl file; a line that is not UTF-8 or not a JSON object is an error naming file and line."""
    rows = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{path}:{lineno}: not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1}); "
                    f"rebuild this file with `python -m pdf_core splits` or re-encode it as UTF-8"
                ) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{path}:{lineno}: not valid JSON ({exc.msg}); rebuild this file with "
                    f"`python -m pdf_core splits` or fix the line by hand"
                ) from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object per line, got {type(row).__name__}")
            rows.append(row)
    return rows


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
