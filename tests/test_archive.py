"""archive.extracted: real zip/tar archives built here, good and hostile."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from pdf_core.data.archive import CorruptArchiveError, UnsafeArchiveError, extracted
from pdf_core.io_utils import DIR_MODE

FILES = {"top/a.txt": b"alpha\n", "top/sub/b.bin": bytes(range(256)) * 40}


def make_zip(path: Path, files: dict[str, bytes] = FILES) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo("placeholder")
            info.filename = name  # ZipInfo() would strip a leading slash; a hostile writer does not
            zf.writestr(info, data)
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


def make_tar(path: Path, files: dict[str, bytes] = FILES, mode: str = "w:gz", extra=()) -> Path:
    """``extra``: (name, type, linkname) members added after the files, in order."""
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            _tar_file(tf, name, data)
        for args in extra:
            _tar_special(tf, *args)
    return path


def extract_and_list(archive: Path) -> dict[str, bytes]:
    """Extract into ``archive``'s folder and return {relative path: bytes} of the regular files."""
    with extracted(archive, archive.parent) as tree:
        assert tree.parent == archive.parent and tree.name.startswith(f".{archive.name}.")
        return {
            str(p.relative_to(tree)): p.read_bytes()
            for p in sorted(tree.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }


def leftovers(archive: Path) -> list[str]:
    return sorted(p.name for p in archive.parent.iterdir() if p != archive)


@pytest.mark.parametrize(
    "name,maker",
    [
        ("ds.zip", make_zip),
        ("ds.tar.gz", make_tar),
        ("ds.tgz", make_tar),
        ("ds.tar", lambda p: make_tar(p, mode="w")),
        ("ds.tar.xz", lambda p: make_tar(p, mode="w:xz")),
        ("ds.tar.bz2", lambda p: make_tar(p, mode="w:bz2")),
        ("zip-download.bin", make_zip),  # no suffix: recognised by its content
        ("tar-download.bin", make_tar),
    ],
)
def test_extracts_real_archives_and_cleans_up(tmp_path, name, maker):
    archive = maker(tmp_path / name)
    assert extract_and_list(archive) == FILES
    assert leftovers(archive) == []


def test_tree_is_removed_when_the_caller_fails(tmp_path):
    archive = make_zip(tmp_path / "ds.zip")
    with pytest.raises(KeyError), extracted(archive, tmp_path / "parent") as tree:
        assert stat.S_IMODE(tree.stat().st_mode) == DIR_MODE  # not mkdtemp's 0700: it may become the dataset
        raise KeyError("caller")
    assert list((tmp_path / "parent").iterdir()) == []


def test_moved_out_content_stays(tmp_path):
    archive = make_tar(tmp_path / "ds.tar.gz")
    with extracted(archive, tmp_path) as tree:
        os.replace(tree / "top", tmp_path / "kept")
    assert (tmp_path / "kept" / "sub" / "b.bin").read_bytes() == FILES["top/sub/b.bin"]
    assert leftovers(archive) == ["kept"]


def test_tar_with_dot_slash_names(tmp_path):
    archive = make_tar(tmp_path / "dot.tar", {"./top/a.txt": b"x", "top/./b.txt": b"y"}, mode="w")
    assert extract_and_list(archive) == {"top/a.txt": b"x", "top/b.txt": b"y"}


def test_symlink_into_its_own_folder_is_allowed(tmp_path):
    archive = make_tar(tmp_path / "ok.tar.gz", extra=[("top/link", tarfile.SYMTYPE, "sub/b.bin")])
    with extracted(archive, tmp_path) as tree:
        link = tree / "top" / "link"
        assert link.is_symlink() and link.read_bytes() == FILES["top/sub/b.bin"]


def test_member_through_an_in_folder_symlink_stays_inside(tmp_path):
    # links may only point down, so writing through one cannot leave the folder (no need to refuse it)
    with tarfile.open(tmp_path / "via.tar", "w") as tf:
        _tar_special(tf, "top/d", tarfile.SYMTYPE, ".")
        _tar_file(tf, "top/d/x.txt", b"through the link")
    assert extract_and_list(tmp_path / "via.tar") == {"top/x.txt": b"through the link"}


def test_zip_symlink_entry_becomes_a_plain_file(tmp_path):
    archive = tmp_path / "zlink.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("top/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../outside")
    with extracted(archive, tmp_path) as tree:
        link = tree / "top" / "link"
        assert not link.is_symlink() and link.read_bytes() == b"../../outside"


@pytest.mark.reliability
def test_not_an_archive(tmp_path):
    junk = tmp_path / "page.html"
    junk.write_text("<html>login required</html>")
    with pytest.raises(CorruptArchiveError, match="page.html"):
        extract_and_list(junk)
    assert leftovers(junk) == []


# ----------------------------------------------------------------------------- hostile members


def _assert_rejected(archive: Path, member: str, why: str) -> None:
    with pytest.raises(UnsafeArchiveError) as info:
        extract_and_list(archive)
    msg = str(info.value)
    assert str(archive) in msg and repr(member) in msg and why in msg
    assert isinstance(info.value, ValueError)
    assert leftovers(archive) == []  # no temp folder, nothing written next to it
    assert not (archive.parent.parent / "evil").exists() and not (archive.parent / "evil").exists()


@pytest.mark.reliability
@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
@pytest.mark.parametrize("member", ["../evil", "top/../../evil", "top/../evil"])
def test_dotdot_member_rejected(tmp_path, fmt, member):
    files = {"top/a.txt": b"fine", member: b"pwned"}  # zipfile would write "evil" / "top/evil" instead
    archive = (make_zip if fmt == "zip" else make_tar)(tmp_path / f"bad.{fmt}", files)
    _assert_rejected(archive, member, "'..' component")


@pytest.mark.reliability
@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
@pytest.mark.parametrize("member", ["/abs_evil", "\\abs_evil", "C:/abs_evil"])
def test_absolute_member_rejected(tmp_path, fmt, member):
    # tarfile's data filter would strip the "/", zipfile the "/" and "C:": both would write it somewhere else
    archive = (make_zip if fmt == "zip" else make_tar)(tmp_path / f"abs.{fmt}", {"top/a.txt": b"x", member: b"p"})
    _assert_rejected(archive, member, "absolute path")


@pytest.mark.reliability
def test_windows_dotdot_zip_name_rejected(tmp_path):
    archive = make_zip(tmp_path / "win.zip", {"top\\..\\..\\evil": b"pwned"})
    _assert_rejected(archive, "top\\..\\..\\evil", "'..' component")


@pytest.mark.reliability
@pytest.mark.parametrize(
    "linkname,why",
    [
        ("../../outside", "'..' component"),
        ("/etc/passwd", "absolute path"),
        ("sub/../../..", "'..' component"),
        ("../a.txt", "'..' component"),  # stays inside, but a climbing link target is refused (module docstring)
    ],
)
def test_climbing_or_absolute_symlink_rejected(tmp_path, linkname, why):
    archive = make_tar(tmp_path / "link.tar.gz", extra=[("top/sub/link", tarfile.SYMTYPE, linkname)])
    _assert_rejected(archive, "top/sub/link", why)


@pytest.mark.reliability
def test_link_chain_out_rejected(tmp_path):
    # "m -> k/.." reads as "." but k -> "." makes it the parent of the target folder
    archive = make_tar(
        tmp_path / "chain.tar", mode="w", extra=[("k", tarfile.SYMTYPE, "."), ("m", tarfile.SYMTYPE, "k/..")]
    )
    _assert_rejected(archive, "m", "'..' component")


@pytest.mark.reliability
def test_hardlink_out_rejected(tmp_path):
    archive = make_tar(tmp_path / "hard.tar", mode="w", extra=[("top/hard", tarfile.LNKTYPE, "../outside")])
    _assert_rejected(archive, "top/hard", "'..' component")


@pytest.mark.reliability
def test_hardlink_to_missing_member_is_corrupt(tmp_path):
    archive = make_tar(tmp_path / "hard.tar", mode="w", extra=[("top/hard", tarfile.LNKTYPE, "top/nothere")])
    with pytest.raises(CorruptArchiveError, match=f"{archive}.*top/nothere"):
        extract_and_list(archive)
    assert leftovers(archive) == []


@pytest.mark.reliability
@pytest.mark.parametrize("kind", [tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE])
def test_device_and_fifo_rejected(tmp_path, kind):
    archive = make_tar(tmp_path / "dev.tar.gz", extra=[("top/dev", kind)])
    _assert_rejected(archive, "top/dev", "special file")


# ----------------------------------------------------------------------------- broken archives


def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _assert_corrupt(archive: Path) -> None:
    with pytest.raises(CorruptArchiveError, match=str(archive)):
        extract_and_list(archive)
    assert leftovers(archive) == []


@pytest.mark.reliability
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_truncated_tar_gz(tmp_path, fraction):
    archive = make_tar(tmp_path / "cut.tar.gz")
    _truncate(archive, int(archive.stat().st_size * fraction))
    _assert_corrupt(archive)


@pytest.mark.reliability
@pytest.mark.parametrize("mode,cut", [("w:gz", 4), ("w:xz", 1), ("w:bz2", 1)])
def test_compressed_tar_cut_in_its_trailer(tmp_path, mode, cut):
    # tarfile stops at the end-of-archive marker; only reading the stream to its end sees these cuts
    archive = make_tar(tmp_path / f"cut.{mode[2:]}")
    _truncate(archive, archive.stat().st_size - cut)  # gzip: only the length field is missing
    _assert_corrupt(archive)


@pytest.mark.reliability
@pytest.mark.parametrize("fraction", [0.3, 0.9])
def test_truncated_zip(tmp_path, fraction):
    archive = make_zip(tmp_path / "cut.zip")
    _truncate(archive, int(archive.stat().st_size * fraction))
    _assert_corrupt(archive)


@pytest.mark.reliability
def test_corrupt_zip_member_crc(tmp_path):
    archive = tmp_path / "crc.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("top/a.txt", b"A" * 1000)
    data = bytearray(archive.read_bytes())
    data[data.find(b"A" * 100) + 10] = ord("B")
    archive.write_bytes(bytes(data))
    _assert_corrupt(archive)


@pytest.mark.reliability
def test_truncated_plain_tar_mid_member(tmp_path):
    archive = make_tar(tmp_path / "cut.tar", mode="w")
    _truncate(archive, 512 + 512 + 512 + 100)  # inside the second member's data
    _assert_corrupt(archive)


@pytest.mark.reliability
def test_truncated_plain_tar_at_member_boundary(tmp_path):
    archive = make_tar(tmp_path / "cut.tar", mode="w")
    _truncate(archive, 512 + 512)  # header + data of the first member, nothing after it
    _assert_corrupt(archive)
