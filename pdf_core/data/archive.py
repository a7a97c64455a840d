"""Safe extraction of dataset archives (.zip, .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz).

``safe_extract`` checks every member *before* anything is written and refuses an
archive that could write outside the target directory:

* absolute member names (``/etc/passwd``, ``C:\\x``) and names with a ``..`` component;
* symlinks whose target is absolute or resolves outside the target directory,
  hard links to anything outside it, and members whose path passes through a
  symlink of the same archive (the classic "link to a shallower dir" trick);
* character/block devices and FIFOs.

It then extracts into a temporary directory next to ``dest`` and renames that
directory onto ``dest``. A truncated or corrupt archive raises
:class:`CorruptArchiveError`; in every failure case ``dest`` is left untouched and
no temporary directory is left behind. Tar archives are additionally extracted
with the standard library's ``"data"`` filter where available (Python >= 3.11.4),
as a second line of defence.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

__all__ = ["safe_extract", "UnsafeArchiveError", "CorruptArchiveError", "archive_kind"]

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

# Errors that mean "the archive bytes are broken", as opposed to "it is unsafe".
_CORRUPT_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
)


class UnsafeArchiveError(ValueError):
    """A member would write outside the target directory, or is a device/FIFO."""


class CorruptArchiveError(ValueError):
    """The archive is truncated, corrupt, or not an archive at all."""


def archive_kind(archive: Path) -> str:
    """Return ``"zip"`` or ``"tar"`` from the file name, falling back to the content."""
    name = archive.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    if zipfile.is_zipfile(archive):
        return "zip"
    try:
        if tarfile.is_tarfile(archive):
            return "tar"
    except _CORRUPT_ERRORS:
        pass
    raise CorruptArchiveError(
        f"{archive}: not a .zip, .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz archive; "
        f"check the file (a partial download or an HTML error page is a common cause) "
        f"and download it again"
    )


def safe_extract(archive: Path, dest: Path, overwrite: bool = False) -> Path:
    """Extract ``archive`` into directory ``dest`` and return ``dest``.

    ``dest`` must not exist, or be an empty directory, unless ``overwrite=True``
    (then the old ``dest`` is replaced as a whole after a successful extraction).
    Raises :class:`UnsafeArchiveError` (a ``ValueError``) naming the archive and
    the offending member, :class:`CorruptArchiveError` (a ``ValueError``) for a
    truncated/corrupt archive, ``FileExistsError`` for a non-empty ``dest``.
    """
    archive = Path(archive)
    dest = Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist")
    if dest.exists() or dest.is_symlink():
        empty_dir = dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir())
        if not empty_dir and not overwrite:
            raise FileExistsError(
                f"cannot extract {archive} into {dest}: it already exists and is not empty; "
                f"remove it, or pass overwrite=True to replace it"
            )
    kind = archive_kind(archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".extracting", dir=dest.parent))
    try:
        os.chmod(tmp, 0o755)
        try:
            if kind == "zip":
                _extract_zip(archive, tmp)
            else:
                _extract_tar(archive, tmp)
        except _CORRUPT_ERRORS as exc:
            raise CorruptArchiveError(
                f"{archive}: truncated or corrupt archive ({type(exc).__name__}: {exc}); "
                f"nothing was extracted. Delete it and download it again"
            ) from exc
        _move_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# --------------------------------------------------------------------------- checks


def _unsafe(archive: Path, member: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"{archive}: refusing to extract member {member!r}: {why}. Nothing was extracted. "
        f"The archive is not a plain dataset archive; get it again from the official source "
        f"or unpack it by hand after inspecting it"
    )


def _normalise(archive: Path, name: str) -> str:
    """Return the member's path relative to the target dir, or raise if it escapes."""
    if name.startswith(("/", "\\")) or (len(name) >= 2 and name[1] == ":"):
        raise _unsafe(archive, name, "absolute path")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise _unsafe(archive, name, "path contains a '..' component")
    rel = posixpath.normpath("/".join(parts))
    return "" if rel == "." else rel


def _inside(rel: str) -> bool:
    """Whether a normalised relative path stays inside the target dir."""
    return not (rel == ".." or rel.startswith("../") or rel.startswith("/"))


def _check_link(archive: Path, name: str, rel: str, target: str, hard: bool) -> None:
    if not target:
        raise _unsafe(archive, name, "link with an empty target")
    if target.startswith(("/", "\\")) or (len(target) >= 2 and target[1] == ":"):
        raise _unsafe(archive, name, f"link to absolute path {target!r}")
    base = "" if hard else posixpath.dirname(rel)
    resolved = posixpath.normpath(posixpath.join(base, target.replace("\\", "/")))
    if not _inside(resolved):
        raise _unsafe(archive, name, f"link target {target!r} points outside the target directory")


def _check_through_symlinks(archive: Path, rels: dict[str, str], symlinks: set[str]) -> None:
    if not symlinks:
        return
    for name, rel in rels.items():
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in symlinks:
                raise _unsafe(archive, name, "path passes through a symlink of the same archive")


# --------------------------------------------------------------------------- zip


def _extract_zip(archive: Path, tmp: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        rels: dict[str, str] = {}
        symlinks: set[str] = set()
        for info in infos:
            rel = _normalise(archive, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise _unsafe(archive, info.filename, "device, FIFO or socket member")
            if stat.S_ISLNK(mode):
                # zipfile writes a symlink entry as a regular file holding the target;
                # still refuse one that points outside, like for tar.
                target = zf.read(info).decode("utf-8", "replace")
                _check_link(archive, info.filename, rel, target, hard=False)
                symlinks.add(rel)
            if rel:
                rels[info.filename] = rel
        _check_through_symlinks(archive, rels, symlinks)
        for info in infos:
            if not rels.get(info.filename):
                continue
            target = tmp / rels[info.filename]
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:  # CRC checked on read
                shutil.copyfileobj(src, dst, 1 << 20)


# --------------------------------------------------------------------------- tar


def _extract_tar(archive: Path, tmp: Path) -> None:
    with tarfile.open(archive, mode="r:*") as tf:
        members = tf.getmembers()
        _check_tar_complete(archive, tf)
        rels: dict[str, str] = {}
        symlinks: set[str] = set()
        for m in members:
            rel = _normalise(archive, m.name)
            if m.ischr() or m.isblk() or m.isfifo() or not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                raise _unsafe(archive, m.name, "device, FIFO or other special member")
            if m.issym():
                _check_link(archive, m.name, rel, m.linkname, hard=False)
                symlinks.add(rel)
            elif m.islnk():
                _check_link(archive, m.name, rel, m.linkname, hard=True)
            if rel:
                rels[m.name] = rel
        _check_through_symlinks(archive, rels, symlinks)
        wanted = [m for m in members if rels.get(m.name)]
        if hasattr(tarfile, "data_filter"):
            try:
                tf.extractall(tmp, members=wanted, filter="data")
            except tarfile.FilterError as exc:
                member = exc.tarinfo.name if getattr(exc, "tarinfo", None) else "?"
                raise _unsafe(archive, member, str(exc)) from exc
        else:  # pragma: no cover - Python < 3.11.4
            tf.extractall(tmp, members=wanted)


def _check_tar_complete(archive: Path, tf: tarfile.TarFile) -> None:
    """Detect truncation that ``getmembers`` silently accepts.

    A compressed tar is read to the end so that the compressor verifies its
    trailer (CRC and length). An uncompressed tar must end with the
    end-of-archive zero block right after the last member.
    """
    fileobj = tf.fileobj
    if isinstance(fileobj, (gzip.GzipFile, lzma.LZMAFile, bz2.BZ2File)):
        try:
            while fileobj.read(1 << 20):
                pass
        except OSError as exc:  # bz2 reports bad data as a bare OSError
            raise CorruptArchiveError(
                f"{archive}: corrupt compressed stream ({exc}); nothing was extracted. Delete it and download it again"
            ) from exc
        return
    size = archive.stat().st_size
    if tf.offset + tarfile.BLOCKSIZE > size:
        raise CorruptArchiveError(
            f"{archive}: truncated tar archive (no end-of-archive marker after the last member "
            f"{tf.members[-1].name if tf.members else '?'!r}); nothing was extracted. "
            f"Delete it and download it again"
        )


# --------------------------------------------------------------------------- rename


def _move_into_place(tmp: Path, dest: Path) -> None:
    if not (dest.exists() or dest.is_symlink()):
        os.replace(tmp, dest)
        return
    if dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir()):
        os.replace(tmp, dest)  # rename onto an empty directory is atomic on POSIX
        return
    # overwrite=True with existing content: swap, then delete the old tree
    trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
    old = trash / "old"
    os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except BaseException:
        os.replace(old, dest)
        shutil.rmtree(trash, ignore_errors=True)
        raise
    shutil.rmtree(trash, ignore_errors=True)
