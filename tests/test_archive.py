"""safe_extract: real zip/tar archives built here, good and hostile."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from pdf_core.data.archive import CorruptArchiveError, UnsafeArchiveError, safe_extract

FILES = {"top/a.txt": b"alpha\n", "top/sub/b.bin": bytes(range(256)) * 40}


def make_zip(path: Path, files: dict[str, bytes] = FILES) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _tar_file(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def _tar_special(tf: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o777 if kind == tarfile.SYMTYPE else 0o644
    tf.addfile(info)


def make_tar(path: Path, files: dict[str, bytes] = FILES, mode: str = "w:gz", extra=None) -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            _tar_file(tf, name, data)
        for args in extra or []:
            _tar_special(tf, *args)
    return path


def leftovers(parent: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)


def assert_tree(dest: Path, files: dict[str, bytes] = FILES) -> None:
    for name, data in files.items():
        assert (dest / name).read_bytes() == data


@pytest.mark.parametrize(
    "name,maker",
    [
        ("ds.zip", make_zip),
        ("ds.tar.gz", make_tar),
        ("ds.tgz", make_tar),
        ("ds.tar", lambda p: make_tar(p, mode="w")),
        ("ds.tar.xz", lambda p: make_tar(p, mode="w:xz")),
    ],
)
def test_extracts_real_archives(tmp_path, name, maker):
    archive = maker(tmp_path / name)
    dest = tmp_path / "out"
    assert safe_extract(archive, dest) == dest
    assert_tree(dest)
    assert leftovers(tmp_path, {name, "out"}) == []


def test_extension_less_archive_is_sniffed(tmp_path):
    archive = make_tar(tmp_path / "download.bin")
    safe_extract(archive, tmp_path / "out")
    assert_tree(tmp_path / "out")


@pytest.mark.reliability
def test_not_an_archive(tmp_path):
    junk = tmp_path / "page.html"
    junk.write_text("<html>login required</html>")
    with pytest.raises(CorruptArchiveError, match="page.html"):
        safe_extract(junk, tmp_path / "out")
    assert leftovers(tmp_path, {"page.html"}) == []


def test_symlink_inside_is_allowed(tmp_path):
    archive = make_tar(tmp_path / "ok.tar.gz", extra=[("top/link", tarfile.SYMTYPE, "sub/b.bin")])
    safe_extract(archive, tmp_path / "out")
    link = tmp_path / "out" / "top" / "link"
    assert link.is_symlink() and link.read_bytes() == FILES["top/sub/b.bin"]


# ----------------------------------------------------------------------------- hostile members


def _assert_rejected(tmp_path: Path, archive: Path, member: str) -> None:
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError) as info:
        safe_extract(archive, dest)
    msg = str(info.value)
    assert archive.name in msg and member in msg
    assert isinstance(info.value, ValueError)
    assert not dest.exists()
    assert leftovers(tmp_path, {archive.name}) == []  # no temp dir, nothing written next to dest
    assert not (tmp_path.parent / "evil").exists()


@pytest.mark.reliability
@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_traversal_member_rejected(tmp_path, fmt):
    files = {"top/a.txt": b"fine", "../evil": b"pwned"}
    archive = (make_zip if fmt == "zip" else make_tar)(tmp_path / f"bad.{fmt}", files)
    _assert_rejected(tmp_path, archive, "../evil")


@pytest.mark.reliability
@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_nested_traversal_rejected(tmp_path, fmt):
    files = {"top/a.txt": b"fine", "top/../../evil": b"pwned"}
    archive = (make_zip if fmt == "zip" else make_tar)(tmp_path / f"bad.{fmt}", files)
    _assert_rejected(tmp_path, archive, "top/../../evil")


@pytest.mark.reliability
def test_absolute_member_rejected_tar(tmp_path):
    target = tmp_path / "abs_evil"
    archive = make_tar(tmp_path / "abs.tar.gz", {"top/a.txt": b"x", str(target): b"pwned"})
    _assert_rejected(tmp_path, archive, str(target))
    assert not target.exists()


@pytest.mark.reliability
def test_absolute_member_rejected_zip(tmp_path):
    archive = tmp_path / "abs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("top/a.txt", b"x")
        info = zipfile.ZipInfo("placeholder")
        info.filename = "/etc/evil"  # ZipInfo() strips a leading slash; a hostile writer does not
        zf.writestr(info, b"pwned")
    _assert_rejected(tmp_path, archive, "/etc/evil")


@pytest.mark.reliability
@pytest.mark.parametrize("linkname", ["../../outside", "/etc/passwd", "sub/../../.."])
def test_symlink_out_rejected(tmp_path, linkname):
    archive = make_tar(tmp_path / "link.tar.gz", extra=[("top/link", tarfile.SYMTYPE, linkname)])
    _assert_rejected(tmp_path, archive, "top/link")


@pytest.mark.reliability
def test_hardlink_out_rejected(tmp_path):
    archive = make_tar(tmp_path / "hard.tar", mode="w", extra=[("top/hard", tarfile.LNKTYPE, "../outside")])
    _assert_rejected(tmp_path, archive, "top/hard")


@pytest.mark.reliability
def test_write_through_symlink_rejected(tmp_path):
    # "top/d" -> "." is harmless on its own, but "top/d/../x" style tricks go through it
    with tarfile.open(tmp_path / "via.tar", "w") as tf:
        _tar_special(tf, "top/d", tarfile.SYMTYPE, ".")
        _tar_file(tf, "top/d/x.txt", b"through the link")
    _assert_rejected(tmp_path, tmp_path / "via.tar", "top/d/x.txt")


@pytest.mark.reliability
@pytest.mark.parametrize("kind", [tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE])
def test_device_and_fifo_rejected(tmp_path, kind):
    archive = make_tar(tmp_path / "dev.tar.gz", extra=[("top/dev", kind)])
    _assert_rejected(tmp_path, archive, "top/dev")


@pytest.mark.reliability
def test_zip_symlink_out_rejected(tmp_path):
    archive = tmp_path / "zlink.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("top/a.txt", b"x")
        info = zipfile.ZipInfo("top/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../outside")
    _assert_rejected(tmp_path, archive, "top/link")


# ----------------------------------------------------------------------------- broken archives


def _truncate(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def _assert_corrupt(tmp_path: Path, archive: Path) -> None:
    dest = tmp_path / "out"
    with pytest.raises(CorruptArchiveError, match=archive.name):
        safe_extract(archive, dest)
    assert not dest.exists()
    assert leftovers(tmp_path, {archive.name}) == []


@pytest.mark.reliability
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_truncated_tar_gz(tmp_path, fraction):
    archive = make_tar(tmp_path / "cut.tar.gz")
    _truncate(archive, int(archive.stat().st_size * fraction))
    _assert_corrupt(tmp_path, archive)


@pytest.mark.reliability
def test_truncated_tar_gz_trailer_only(tmp_path):
    archive = make_tar(tmp_path / "cut.tar.gz")
    _truncate(archive, archive.stat().st_size - 4)  # only the gzip length field is missing
    _assert_corrupt(tmp_path, archive)


@pytest.mark.reliability
@pytest.mark.parametrize("fraction", [0.3, 0.9])
def test_truncated_zip(tmp_path, fraction):
    archive = make_zip(tmp_path / "cut.zip")
    _truncate(archive, int(archive.stat().st_size * fraction))
    _assert_corrupt(tmp_path, archive)


@pytest.mark.reliability
def test_corrupt_zip_member_crc(tmp_path):
    archive = tmp_path / "crc.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("top/a.txt", b"A" * 1000)
    data = bytearray(archive.read_bytes())
    i = data.find(b"A" * 100)
    data[i + 10] = ord("B")
    archive.write_bytes(bytes(data))
    _assert_corrupt(tmp_path, archive)


@pytest.mark.reliability
def test_truncated_plain_tar_mid_member(tmp_path):
    archive = make_tar(tmp_path / "cut.tar", mode="w")
    _truncate(archive, 512 + 512 + 512 + 100)  # inside the second member's data
    _assert_corrupt(tmp_path, archive)


@pytest.mark.reliability
def test_truncated_plain_tar_at_member_boundary(tmp_path):
    archive = make_tar(tmp_path / "cut.tar", mode="w")
    _truncate(archive, 512 + 512)  # first member complete, nothing after it
    _assert_corrupt(tmp_path, archive)


# ----------------------------------------------------------------------------- destination


@pytest.mark.reliability
def test_refuses_non_empty_dest(tmp_path):
    archive = make_zip(tmp_path / "ds.zip")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        safe_extract(archive, dest)
    assert (dest / "old.txt").read_text() == "old"
    assert leftovers(tmp_path, {"ds.zip", "out"}) == []


def test_empty_dest_is_fine(tmp_path):
    archive = make_zip(tmp_path / "ds.zip")
    (tmp_path / "out").mkdir()
    safe_extract(archive, tmp_path / "out")
    assert_tree(tmp_path / "out")


def test_overwrite_replaces_whole_tree(tmp_path):
    archive = make_zip(tmp_path / "ds.zip")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    safe_extract(archive, dest, overwrite=True)
    assert_tree(dest)
    assert not (dest / "old.txt").exists()
    assert leftovers(tmp_path, {"ds.zip", "out"}) == []


@pytest.mark.reliability
def test_overwrite_keeps_old_tree_when_archive_is_bad(tmp_path):
    archive = make_zip(tmp_path / "ds.zip")
    _truncate(archive, 50)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(CorruptArchiveError):
        safe_extract(archive, dest, overwrite=True)
    assert (dest / "old.txt").read_text() == "old"
    assert leftovers(tmp_path, {"ds.zip", "out"}) == []
