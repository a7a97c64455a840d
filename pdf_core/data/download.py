"""Fetch a raw dataset or GloVe: a file or folder placed by hand, or an HTTP download.

``download_dataset(name, spec, raw_dir)`` takes the ``download:`` block of a dataset in params.yaml::

    url: https://...            # or null: placement by hand only
    sha256: 64 hex digits       # or null: computed, printed and recorded
    filename: MVSA-Single.zip   # the archive's file name
    extracted_name: MVSA_Single # the folder the dataset ends up in
    instructions: where a human gets the archive

and tries, in this order:

a. ``raw_dir/<extracted_name>/`` exists and is not empty: used as is, no network;
b. ``raw_dir/<filename>`` exists (placed by hand): sha256 checked when given, extracted, never deleted;
c. ``url`` is set: downloaded, checked against ``sha256`` *before* extraction, extracted, deleted;
d. otherwise an error says where to get the archive and the exact paths to put it or its folder at.

pooch does the HTTP side (requests, the sha256 check, retries, the progress bar, the move into place once
the hash matches). It restarts every attempt from byte 0, so :class:`ResumableDownloader` keeps what arrived
in ``<filename>.download/<filename>.part`` and asks only for the rest with an HTTP Range request, within a run
and on the next one.
Extraction is :func:`pdf_core.data.archive.extracted`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pooch
import requests

from pdf_core.data.archive import extracted
from pdf_core.io_utils import remove_stale_temps, write_text

__all__ = ["download_dataset", "download_glove", "DownloadError", "ChecksumError", "ResumableDownloader"]

_CHUNK = 1 << 20  # bytes per write; a dropped connection loses at most the chunk in flight


class DownloadError(RuntimeError):
    """The data could not be obtained; the message says how to get it by hand."""


class ChecksumError(DownloadError):
    """A file's sha256 differs from the one pinned in params."""


class ResumableDownloader:
    """A pooch downloader that appends to ``part`` and asks the server only for the bytes it lacks.

    A ``206`` answer starting at the size of ``part`` is appended; a ``200`` (a server that ignores Range) or a
    ``416`` (the range no longer fits the file) empties ``part`` first, so the file always holds a prefix of
    what the server sends. Once the body is complete, ``part`` becomes the file pooch asked for.
    """

    def __init__(self, part: Path, *, progressbar: bool = True, timeout: float = 60.0) -> None:
        self.part = Path(part)
        self.progressbar = progressbar
        self.timeout = timeout

    def __call__(self, url: str, output_file: str, pooch_obj: pooch.Pooch | None) -> None:
        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Accept-Encoding": "identity"}  # bytes as stored: a range of a compressed body means nothing
        if have:
            headers["Range"] = f"bytes={have}-"
        with open(self.part, "ab") as fh:

            def keep_or_restart(response: requests.Response, *args, **kwargs) -> None:
                resumed = response.status_code == 206 and _range_start(response) == have
                if resumed or response.status_code not in (200, 206, 416):  # redirects, errors: part untouched
                    return
                fh.truncate(0)
                if response.status_code == 206:  # a range of the wrong start: its body does not fit
                    raise requests.RequestException(f"{url}: server resumed elsewhere than byte {have}")

            http = pooch.HTTPDownloader(
                progressbar=self.progressbar,
                chunk_size=_CHUNK,
                timeout=self.timeout,
                headers=headers,
                hooks={"response": keep_or_restart},
            )
            http(url, fh, pooch_obj)
        os.replace(self.part, output_file)


def _range_start(response: requests.Response) -> int | None:
    match = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _fetch(
    url: str,
    sha256: str | None,
    dest: Path,
    label: str,
    manual: str,
    *,
    progressbar: bool,
    retries: int,
    timeout: float,
) -> None:
    """Download ``url`` to ``dest`` through pooch, ``retries`` more attempts each resuming the last.

    pooch and the partial file work in ``<dest>.download/``, so what a killed run leaves (pooch's temporary files)
    is swept on the next one and never sits next to ``dest``. A failure says what to do by hand (``manual``).
    pooch retries a hash mismatch too, from byte 0.
    """
    work = dest.with_name(dest.name + ".download")
    part = work / (dest.name + ".part")
    for stale in work.glob("*"):
        if stale not in (part, work / dest.name):  # dest.name there: complete and verified, not yet moved
            stale.unlink()
    fetcher = pooch.create(
        path=work,
        base_url="",
        registry={dest.name: f"sha256:{sha256}" if sha256 else None},
        urls={dest.name: url},
        retry_if_failed=retries,
    )
    try:
        fetcher.fetch(dest.name, downloader=ResumableDownloader(part, progressbar=progressbar, timeout=timeout))
    except ValueError as exc:  # pooch's hash mismatch; it deleted the download
        shutil.rmtree(work)
        raise ChecksumError(
            f"{label}: {url}: {exc} Check that the URL still serves the same file; if it was legitimately "
            f"updated, set its new sha256 in params.yaml"
        ) from None
    except requests.RequestException as exc:
        kept = part.stat().st_size if part.exists() else 0
        if not kept:
            shutil.rmtree(work)
        resume = f"; the {kept} bytes received are kept in {part} and the next run resumes from there" if kept else ""
        raise DownloadError(
            f"{label}: downloading {url} failed after {retries + 1} attempt(s): {exc}{resume}. {manual}"
        ) from exc
    os.replace(work / dest.name, dest)
    shutil.rmtree(work)


def _check_sha256(path: Path, sha256: str | None, label: str) -> None:
    """Refuse ``path`` (placed by hand) if its sha256 is not the pinned one; with none pinned, record its sha256."""
    actual = pooch.file_hash(str(path), alg="sha256")
    if sha256 and actual != sha256:
        raise ChecksumError(
            f"{label}: {path} has sha256 {actual}, expected {sha256}. The file is left in place: replace it with "
            f"the original, or, if you trust this copy, set its sha256 in params.yaml to {actual}"
        )
    if not sha256:
        record = path.with_name(path.name + ".sha256")
        write_text(record, f"{actual}  {path.name}\n")  # replaced, never rewritten: it may be a DVC cache hardlink
        print(
            f"{label}: sha256 of {path.name} is {actual} (recorded in {record}); pin it as `sha256` in "
            f"params.yaml so later downloads are verified",
            file=sys.stderr,
        )


def _obtain(url: str | None, sha256: str | None, dest: Path, label: str, manual: str, **transfer) -> bool:
    """Make ``dest`` hold the file: the one placed there by hand, else a download. True if it was downloaded."""
    sha256 = sha256.lower() if sha256 else None
    if dest.is_file():
        _check_sha256(dest, sha256, label)
        return False
    if not url:
        raise DownloadError(f"{label}: {dest} is not there and params.yaml gives no download URL. {manual}")
    _fetch(url, sha256, dest, label, manual, **transfer)
    if not sha256:
        _check_sha256(dest, None, label)
    return True


def _plain_name(value, key: str, name: str) -> str:
    if not isinstance(value, str) or value in {"", ".", ".."} or "/" in value or "\\" in value:
        raise ValueError(f"dataset {name!r}: download key {key!r} must be a plain file name, got {value!r}")
    return value


def _dataset_root(tree: Path, extracted_name: str, label: str, archive: Path) -> Path:
    """The folder of an extracted ``tree`` that becomes ``<extracted_name>``.

    The archive's ``extracted_name/`` if it has one, else its only entry if that is a folder (named otherwise),
    else the archive's top level itself.
    """
    inner = tree / extracted_name
    if inner.is_dir():
        return inner
    entries = list(tree.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        print(f"{label}: {archive.name} holds {entries[0].name}/, not {extracted_name}/; using it", file=sys.stderr)
        return entries[0]
    return tree


def download_dataset(
    name: str, spec: dict, raw_dir: Path, *, progressbar: bool = True, retries: int = 3, timeout: float = 60.0
) -> Path:
    """Make ``raw_dir/<extracted_name>`` hold the dataset and return that path (sources: the module docstring).

    Raises :class:`ChecksumError` on a sha256 mismatch, :class:`DownloadError` when nothing works (naming the
    instructions and the exact paths for a placement by hand), and the ``ValueError`` subclasses of
    :mod:`pdf_core.data.archive` for an unsafe or broken archive.
    """
    raw_dir = Path(raw_dir)
    filename = _plain_name(spec.get("filename"), "filename", name)
    extracted_name = _plain_name(spec.get("extracted_name"), "extracted_name", name)
    target, archive = raw_dir / extracted_name, raw_dir / filename
    if target.is_dir() and any(target.iterdir()):
        return target
    sha256 = spec.get("sha256")
    manual = (
        f"Get it by hand: {spec.get('instructions') or '(params.yaml gives no instructions)'}. Then put the archive "
        f"at {archive.resolve()}{f' (sha256 {sha256})' if sha256 else ''}, or its extracted folder at "
        f"{target.resolve()}/, and run again."
    )
    remove_stale_temps(raw_dir, [filename])  # a killed extraction's temporary folder
    transfer = dict(progressbar=progressbar, retries=retries, timeout=timeout)
    downloaded = _obtain(spec.get("url"), sha256, archive, name, manual, **transfer)
    try:
        with extracted(archive, raw_dir) as tree:
            os.replace(_dataset_root(tree, extracted_name, name, archive), target)
    finally:
        if downloaded:  # ours: extracted, or refused and not worth keeping; one placed by hand stays
            archive.unlink(missing_ok=True)
    return target


def download_glove(spec: dict, name: str, *, progressbar: bool = True, retries: int = 3, timeout: float = 60.0) -> Path:
    """Make ``spec["source"]`` (a GloVe text file) exist, from the zip at ``spec["download"]["url"]`` if needed.

    The zip is kept next to the text file (a later run re-extracts it without network).
    """
    target = Path(spec["source"])
    if target.exists():
        return target
    if "download" not in spec:
        raise ValueError(
            f"encoders.glove.{name}: {target} does not exist and there is no 'download' block; "
            f"place the file there by hand"
        )
    url, sha256 = spec["download"]["url"], spec["download"]["sha256"]
    archive = target.parent / (PurePosixPath(urlsplit(url).path).name if url else f"{target.stem}.zip")
    manual = (
        f"Get it by hand from https://nlp.stanford.edu/projects/glove/ and put the zip at {archive.resolve()} "
        f"or the text file at {target.resolve()}."
    )
    remove_stale_temps(target.parent, [archive.name])
    _obtain(url, sha256, archive, f"GloVe {name}", manual, progressbar=progressbar, retries=retries, timeout=timeout)
    with extracted(archive, target.parent) as tree:
        found = next(tree.rglob(target.name), None)
        if found is None:
            raise ValueError(f"{archive}: holds no {target.name}; check encoders.glove.{name}.source")
        os.replace(found, target)
    return target
