"""Extract a dataset archive (.zip or any tar the standard library reads) without letting it write elsewhere.

The standard library does the extraction. What it does not do, and this module adds:

* zipfile *sanitises* a hostile name (``../evil`` becomes ``evil``, ``/etc/x`` becomes ``etc/x``) and tarfile's
  ``filter="data"`` strips a leading ``/``: both would quietly write a file where the archive's author did not
  say. Such an archive is refused instead, naming the archive and the member.
* Python 3.11.7's ``filter="data"`` resolves links with ``os.path.realpath``, which chains of symlinks whose
  targets climb with ``..`` can defeat (CVE-2025-4517, fixed in 3.11.13). Link targets must therefore not climb
  either: a link may only point into its own folder's subtree, so no chain of links can reach outside.
  Everything else (links out of the folder, devices, FIFOs) the data filter refuses.
* tarfile stops reading at the end-of-archive marker, so an archive cut inside the compressor's trailer, or a
  plain tar cut right after a member, would pass as complete.

An archive is extracted into a fresh temporary folder next to where its content goes; callers move out what
they keep, and whatever happens the temporary folder is removed, so a refused or broken archive leaves nothing.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from pdf_core.io_utils import DIR_MODE

__all__ = ["extracted", "UnsafeArchiveError", "CorruptArchiveError"]

# Errors that mean "the archive is broken", as opposed to "it is unsafe"; tarfile raises KeyError for a hard link
# to a member the archive does not hold.
_CORRUPT_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
    KeyError,
)


class UnsafeArchiveError(ValueError):
    """A member would be written outside the target folder, or is a device or FIFO."""


class CorruptArchiveError(ValueError):
    """The archive is truncated, corrupt, or not an archive at all."""


@contextlib.contextmanager
def extracted(archive: Path, parent: Path) -> Iterator[Path]:
    """Extract ``archive`` into a new temporary folder in ``parent`` and yield that folder.

    Move what you keep out of it with ``os.replace`` (same file system: atomic); the rest is deleted on exit.
    Raises :class:`UnsafeArchiveError` or :class:`CorruptArchiveError` (both ``ValueError``) naming the archive.
    """
    archive, parent = Path(archive), Path(parent)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist")
    parent.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", suffix=".extracting", dir=parent))
    try:
        os.chmod(tree, DIR_MODE)  # mkdtemp makes it 0700; it may become the dataset folder itself
        try:
            if archive.name.lower().endswith(".zip") or zipfile.is_zipfile(archive):
                _extract_zip(archive, tree)
            else:
                _extract_tar(archive, tree)
        except _CORRUPT_ERRORS as exc:
            raise CorruptArchiveError(
                f"{archive}: truncated, corrupt or not a zip/tar archive ({type(exc).__name__}: {exc}); nothing "
                f"was extracted. A partial download or an HTML error page is a common cause: delete it and get it again"
            ) from exc
        yield tree
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def _unsafe(archive: Path, member: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"{archive}: refusing to extract member {member!r}: {why}. Nothing was extracted. "
        f"This is not a plain dataset archive: get it again from the official source, or inspect it and unpack it "
        f"by hand"
    )


def _refuse_climbing(archive: Path, member: str, path: str, what: str) -> None:
    """Refuse an absolute ``path`` or one with a ``..`` component (``\\`` counts as a separator: Windows zips)."""
    if path.startswith(("/", "\\")) or path[1:2] == ":":
        raise _unsafe(archive, member, f"{what} is an absolute path")
    if ".." in path.replace("\\", "/").split("/"):
        raise _unsafe(archive, member, f"{what} contains a '..' component")


def _extract_zip(archive: Path, tree: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():  # all names first: refuse before anything is written
            _refuse_climbing(archive, info.filename, info.filename, "its name")
        zf.extractall(tree)  # checks each member's CRC; symlink entries become plain files


def _extract_tar(archive: Path, tree: Path) -> None:
    def check(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
        _refuse_climbing(archive, member.name, member.name, "its name")
        if member.issym() or member.islnk():
            _refuse_climbing(archive, member.name, member.linkname, f"its link target {member.linkname!r}")
        try:
            return tarfile.data_filter(member, dest)
        except tarfile.FilterError as exc:
            raise _unsafe(archive, member.name, str(exc)) from exc

    with tarfile.open(archive, mode="r:*") as tf:
        tf.extractall(tree, filter=check)
        _require_complete(archive, tf)


def _require_complete(archive: Path, tf: tarfile.TarFile) -> None:
    """Refuse a tar cut where tarfile does not look: in the compressor's trailer, or right after a member."""
    if isinstance(tf.fileobj, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile)):
        try:
            while tf.fileobj.read(1 << 20):  # the decompressor checks its trailer (CRC, length) at the end
                pass
        except OSError as exc:  # bz2 reports bad data as a bare OSError
            raise EOFError(f"compressed stream broken after the last member: {exc}") from exc
    elif tf.offset + tarfile.BLOCKSIZE > Path(archive).stat().st_size:
        last = tf.members[-1].name if tf.members else "?"
        raise EOFError(f"no end-of-archive marker after the member {last!r}")
