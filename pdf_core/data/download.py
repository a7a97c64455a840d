"""Fetch a raw dataset: a folder or archive placed by hand, or an HTTP download.

``download_dataset(name, spec, raw_dir)`` takes the params.yaml block of a dataset::

    url: https://...            # or null: manual placement only
    sha256: 64 hex digits       # or null: computed, printed and recorded
    filename: MVSA-Single.zip   # the archive's file name
    extracted_name: MVSA_Single # the top folder the archive holds
    instructions: where a human gets the archive
    keep_archive: false         # optional: keep a downloaded archive after extraction

and tries, in this order:

a. ``raw_dir/<extracted_name>/`` exists and is not empty -> used as is, no network;
b. ``raw_dir/<filename>`` exists (placed by hand) -> sha256 checked when given,
   extracted, no network; the file is never deleted;
c. ``url`` is set -> downloaded to ``raw_dir/<filename>.part`` (resumed with an
   HTTP Range request if a ``.part`` is already there, and after a dropped
   connection), checked against ``sha256`` *before* extraction, extracted with
   :func:`pdf_core.data.archive.safe_extract`, then deleted unless ``keep_archive``;
d. otherwise an error says where to get the file and the exact path to put it.

The HTTP side runs through ``pooch.retrieve`` (temporary file, hash check, atomic
move) with :class:`ResumableDownloader` as its downloader, because pooch's own
downloaders start from scratch every time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pooch
import requests
import urllib3
from tqdm import tqdm

from pdf_core.data.archive import safe_extract
from pdf_core.io_utils import write_text

__all__ = [
    "download_dataset",
    "download_file",
    "DownloadError",
    "ChecksumError",
    "ResumableDownloader",
    "sha256sum",
]

_CHUNK = 1 << 20
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(RuntimeError):
    """The data could not be obtained; the message says how to get it by hand."""


class ChecksumError(DownloadError):
    """A file's sha256 differs from the one pinned in params."""


class _Incomplete(Exception):
    """A response ended before the announced length (retried with a Range request)."""


def sha256sum(path: Path) -> str:
    """Hex sha256 of a file (read in chunks)."""
    return pooch.file_hash(str(path), alg="sha256")


# --------------------------------------------------------------------------- downloader


class ResumableDownloader:
    """A pooch downloader that keeps a stable ``.part`` file and resumes it.

    On each attempt it asks for ``Range: bytes=<size of .part>-``; a ``206``
    answer is appended, a ``200`` answer (server without range support) restarts
    the file. A dropped connection or a short body is retried ``retries`` times
    with exponential back-off, each retry resuming where the last one stopped.
    When the body is complete the ``.part`` file is renamed to the path pooch
    asks for, and pooch checks the hash. ``self.sha256`` holds the hash of the
    completed file (computed while streaming).
    """

    def __init__(
        self,
        part: Path,
        *,
        retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 60.0,
        progressbar: bool = True,
        desc: str | None = None,
    ) -> None:
        self.part = Path(part)
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.progressbar = progressbar
        self.desc = desc or self.part.name
        self.sha256: str | None = None
        self.requests_made = 0

    def __call__(self, url: str, output_file: str, pooch_obj: Any = None, check_only: bool = False) -> Any:
        if check_only:
            r = requests.head(url, allow_redirects=True, timeout=self.timeout)
            return r.status_code < 400
        self.fetch(url)
        os.replace(self.part, output_file)
        return None

    def fetch(self, url: str) -> Path:
        """Complete ``self.part`` from ``url`` and return it."""
        attempt = 0
        while True:
            try:
                self._attempt(url)
                return self.part
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                _Incomplete,
                _RetryableStatus,
            ) as exc:
                attempt += 1
                have = self.part.stat().st_size if self.part.exists() else 0
                if attempt > self.retries:
                    kept = (
                        f"; the partial file {self.part} ({have} bytes) is kept and the next run resumes it"
                        if have
                        else ""
                    )
                    raise DownloadError(f"downloading {url} failed after {attempt} attempt(s): {exc}{kept}") from exc
                wait = min(self.backoff * 2 ** (attempt - 1), 30.0)
                print(
                    f"{self.desc}: download interrupted ({exc}); retrying from byte {have} in {wait:.0f}s",
                    file=sys.stderr,
                )
                time.sleep(wait)

    def _attempt(self, url: str) -> None:
        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        self.requests_made += 1
        with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as r:
            if have and r.status_code == 416:
                total = _content_range_total(r.headers.get("Content-Range", ""))
                if total == have:  # the .part file is already complete
                    self.sha256 = _hash_file(self.part).hexdigest()
                    return
                self.part.unlink()
                raise _Incomplete(f"server refused the range of {have} bytes; restarting from scratch")
            if r.status_code in _RETRYABLE_STATUS:
                raise _RetryableStatus(f"HTTP {r.status_code} {r.reason}")
            if r.status_code >= 400:
                raise DownloadError(f"downloading {url} failed: HTTP {r.status_code} {r.reason}")
            if have and r.status_code == 206:
                start, total = _parse_content_range(r.headers.get("Content-Range", ""))
                if start != have:
                    self.part.unlink()
                    raise _Incomplete(f"server resumed at byte {start}, not {have}; restarting from scratch")
                mode = "ab"
                digest = _hash_file(self.part)
            else:  # 200: a fresh body (the server may ignore Range)
                have = 0
                mode = "wb"
                total = _int_or_none(r.headers.get("Content-Length"))
                digest = hashlib.sha256()
            with (
                open(self.part, mode) as fh,
                tqdm(
                    total=total,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=self.desc,
                    disable=not self.progressbar,
                    file=sys.stderr,
                    leave=False,
                ) as bar,
            ):
                for chunk in _body_chunks(r):
                    fh.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
                fh.flush()
                os.fsync(fh.fileno())
            size = self.part.stat().st_size
            if total is not None and size != total:
                raise _Incomplete(f"connection closed after {size} of {total} bytes")
            self.sha256 = digest.hexdigest()


class _RetryableStatus(Exception):
    pass


def _body_chunks(r: requests.Response):
    """Yield the body as it arrives, bytes exactly as sent (no content decoding).

    ``read1`` returns whatever has arrived, so a dropped connection loses nothing
    that was received (``iter_content`` would drop the last partial chunk).
    """
    read1 = getattr(r.raw, "read1", None)
    if read1 is None:  # urllib3 < 2
        yield from r.iter_content(chunk_size=1 << 16)
        return
    while True:
        try:
            chunk = read1(_CHUNK)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Incomplete(f"connection broken: {exc}") from exc
        if not chunk:
            return
        yield chunk


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _parse_content_range(value: str) -> tuple[int, int | None]:
    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value)
    if not m:
        raise _Incomplete(f"unreadable Content-Range {value!r}")
    return int(m.group(1)), (None if m.group(3) == "*" else int(m.group(3)))


def _content_range_total(value: str) -> int | None:
    m = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", value)
    return int(m.group(1)) if m else None


def _hash_file(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest


# --------------------------------------------------------------------------- helpers


def _record_sha256(path: Path, digest: str, label: str) -> None:
    record = path.with_name(path.name + ".sha256")
    write_text(record, f"{digest}  {path.name}\n")  # replaced, never rewritten: it may be a DVC cache hardlink
    print(
        f"{label}: sha256 of {path.name} is {digest} (recorded in {record}); "
        f"pin it as `sha256` in params.yaml so later downloads are verified",
        file=sys.stderr,
    )


def _check_placed(path: Path, sha256: str | None, label: str) -> str:
    """Verify a file the user placed by hand; never deletes it. Returns its sha256."""
    actual = sha256sum(path)
    if sha256 and actual.lower() != sha256.lower():
        raise ChecksumError(
            f"{label}: {path} has sha256 {actual}, expected {sha256.lower()}. "
            f"The file is left in place: replace it with the original, or, if you trust this copy, "
            f"set its sha256 in params.yaml to {actual}"
        )
    return actual


def _fetch(
    url: str,
    sha256: str | None,
    directory: Path,
    filename: str,
    label: str,
    *,
    progressbar: bool,
    retries: int,
    backoff: float,
    timeout: float,
) -> tuple[Path, str]:
    """Download ``url`` to ``directory/filename`` through pooch; return (path, sha256)."""
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / f"{filename}.part"
    downloader = ResumableDownloader(
        part, retries=retries, backoff=backoff, timeout=timeout, progressbar=progressbar, desc=label
    )
    known = f"sha256:{sha256.lower()}" if sha256 else None
    try:
        path = pooch.retrieve(
            url, known_hash=known, fname=filename, path=directory, downloader=downloader, progressbar=False
        )
    except ValueError:
        part.unlink(missing_ok=True)
        (directory / filename).unlink(missing_ok=True)
        if sha256 and downloader.sha256 and downloader.sha256 != sha256.lower():
            raise ChecksumError(
                f"{label}: checksum mismatch for {url}: expected sha256 {sha256.lower()}, "
                f"got {downloader.sha256}. The download was deleted. Check that the URL still serves "
                f"the same file; if the file was legitimately updated, set the new sha256 in params.yaml"
            ) from None
        raise
    except requests.RequestException as exc:  # e.g. connection refused (not retried by pooch.retrieve)
        raise DownloadError(f"downloading {url} failed: {exc}") from exc
    digest = downloader.sha256 or sha256sum(Path(path))
    return Path(path), digest


def _plain_name(value: Any, key: str, name: str) -> str:
    if not isinstance(value, str) or not value or value in {".", ".."} or "/" in value or "\\" in value:
        raise ValueError(f"dataset {name!r}: spec key {key!r} must be a plain file name, got {value!r}")
    return value


def _non_empty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _extract_dataset(archive: Path, raw_dir: Path, extracted_name: str, label: str) -> Path:
    """Extract ``archive`` so that its dataset root ends up at ``raw_dir/extracted_name``.

    The root is the archive's ``extracted_name/`` folder if it has one; else its
    only top-level folder if there is exactly one entry; else the archive's top
    level itself.
    """
    target = raw_dir / extracted_name
    staging = Path(tempfile.mkdtemp(prefix=f".{extracted_name}.", suffix=".unpack", dir=raw_dir))
    try:
        safe_extract(archive, staging)
        inner = staging / extracted_name
        entries = list(staging.iterdir())
        if inner.is_dir():
            src = inner
        elif len(entries) == 1 and entries[0].is_dir():
            src = entries[0]
            print(
                f"{label}: {archive.name} holds {src.name}/, not {extracted_name}/; using it as {target}",
                file=sys.stderr,
            )
        else:
            src = staging
        if target.exists() and not (target.is_dir() and not any(target.iterdir())):
            raise FileExistsError(f"{label}: {target} appeared while extracting; remove it and rerun")
        os.replace(src, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- public API


def download_dataset(
    name: str,
    spec: dict,
    raw_dir: Path,
    *,
    progressbar: bool = True,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
) -> Path:
    """Make ``raw_dir/<extracted_name>`` hold the dataset and return that path.

    See the module docstring for the order of the sources. Raises
    :class:`ChecksumError` on a sha256 mismatch, :class:`DownloadError` when
    nothing works (with the instructions and the exact path to place the file),
    and the ``ValueError`` subclasses of :mod:`pdf_core.data.archive` for unsafe or
    corrupt archives.
    """
    raw_dir = Path(raw_dir)
    filename = _plain_name(spec.get("filename"), "filename", name)
    extracted_name = _plain_name(spec.get("extracted_name"), "extracted_name", name)
    url = spec.get("url") or None
    sha256 = spec.get("sha256") or None
    instructions = spec.get("instructions") or "(no instructions given in params.yaml)"
    keep_archive = bool(spec.get("keep_archive", False))
    target = raw_dir / extracted_name
    archive = raw_dir / filename

    # (a) extracted folder placed by hand, or a previous run
    if _non_empty_dir(target):
        return target

    # (b) archive placed by hand
    if archive.is_file():
        digest = _check_placed(archive, sha256, name)
        if not sha256:
            _record_sha256(archive, digest, name)
        return _extract_dataset(archive, raw_dir, extracted_name, name)

    manual = (
        f"Get it by hand: {instructions}. Then put the archive at {archive.resolve()}"
        f"{f' (sha256 {sha256})' if sha256 else ''}, or its extracted folder at "
        f"{target.resolve()}/, and run again."
    )
    # (d) nothing to download from
    if not url:
        raise DownloadError(f"{name}: no data in {raw_dir} and no download URL in params. {manual}")

    # (c) download, verify, extract
    try:
        transfer = dict(progressbar=progressbar, retries=retries, backoff=backoff, timeout=timeout)
        path, digest = _fetch(url, sha256, raw_dir, filename, name, **transfer)
    except ChecksumError:
        raise
    except DownloadError as exc:
        raise DownloadError(f"{name}: {exc}. {manual}") from exc
    if not sha256:
        _record_sha256(path, digest, name)
    try:
        root = _extract_dataset(path, raw_dir, extracted_name, name)
    except BaseException:
        path.unlink(missing_ok=True)  # our own download: do not leave a bad archive behind
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
        raise
    if not keep_archive:
        path.unlink(missing_ok=True)
    return root


def download_file(
    url: str | None,
    sha256: str | None,
    dest: Path,
    *,
    instructions: str | None = None,
    progressbar: bool = True,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
) -> Path:
    """Make ``dest`` hold the single file at ``url`` (e.g. the GloVe 840B zip); return ``dest``.

    An existing ``dest`` is used without network (its sha256 checked when given).
    A download is resumable (``dest.part``) and verified before it is renamed
    to ``dest``; with ``sha256=None`` the hash is printed and recorded in
    ``<dest>.sha256``.
    """
    dest = Path(dest)
    label = dest.name
    if dest.is_file():
        _check_placed(dest, sha256, label)
        return dest
    if not url:
        raise DownloadError(
            f"{label}: {dest} does not exist and no download URL is set. "
            f"Get it by hand{': ' + instructions if instructions else ''} and put it at {dest.resolve()}."
        )
    try:
        transfer = dict(progressbar=progressbar, retries=retries, backoff=backoff, timeout=timeout)
        path, digest = _fetch(url, sha256, dest.parent, dest.name, label, **transfer)
    except ChecksumError:
        raise
    except DownloadError as exc:
        hint = f" Or get it by hand{': ' + instructions if instructions else ''} and put it at {dest.resolve()}."
        raise DownloadError(f"{exc}.{hint}") from exc
    if not sha256:
        _record_sha256(path, digest, label)
    return path


def download_glove(spec: dict, name: str) -> Path:
    """Fetch a GloVe text file given as a zip URL; the .txt lands where ``spec["source"]`` points."""
    target = Path(spec["source"])
    if target.exists():
        return target
    if "download" not in spec:
        raise ValueError(
            f"encoders.glove.{name}: {target} does not exist and there is no 'download' block; "
            f"place the file there by hand"
        )
    url, sha256 = spec["download"]["url"], spec["download"]["sha256"]
    archive = download_file(
        url,
        sha256,
        target.parent / Path(url or f"{target.stem}.zip").name,
        instructions=f"GloVe {name}: https://nlp.stanford.edu/projects/glove/",
    )
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        extracted = safe_extract(archive, Path(tmp) / "x")
        found = list(extracted.rglob(target.name))
        if not found:
            raise ValueError(f"{archive}: holds no {target.name}; check encoders.glove.{name}.source")
        shutil.move(str(found[0]), target)
    return target
