"""download_dataset / download_glove against a real HTTP server on 127.0.0.1 started here."""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pdf_core.data.download import ChecksumError, DownloadError, download_dataset, download_glove

FILES = {
    "MVSA_Single/labelResultAll.txt": b"ID\ttext,image\n1\tpositive,positive\n",
    "MVSA_Single/data/1.txt": b"hello world \n",
    # 3 MiB: the downloader writes 1 MiB chunks, so a transfer cut in the middle leaves a non-empty .part
    "MVSA_Single/data/1.jpg": bytes(range(256)) * 12288,
}


def zip_bytes(files: dict[str, bytes] = FILES) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def targz_bytes(files: dict[str, bytes] = FILES) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` (or not), can hang up mid-body or misplace a range."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        srv = self.server
        rng = self.headers.get("Range")
        srv.log.append((self.path, rng))
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and srv.honour_range:
            start = 0 if srv.ranges_start_at_zero else int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        stall = srv.stall_after.pop(self.path, None)
        if stall is not None:  # send part of the body, then wait (the client gets killed meanwhile)
            self.wfile.write(body[:stall])
            self.wfile.flush()
            srv.release.wait(30)
            return
        drop = srv.drop_after.pop(self.path, None)
        if drop is not None:  # send part of the body, then hang up
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.files, srv.log, srv.drop_after, srv.stall_after, srv.release = {}, [], {}, {}, threading.Event()
    srv.honour_range, srv.ranges_start_at_zero = True, False
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: any network access fails fast
    return f"http://127.0.0.1:{port}/never.zip"


def spec(url, sha256, filename="MVSA-Single.zip", extracted_name="MVSA_Single"):
    return {
        "url": url,
        "sha256": sha256,
        "filename": filename,
        "extracted_name": extracted_name,
        "instructions": "ask the authors at example.org",
    }


FAST = {"progressbar": False, "timeout": 5.0}


def assert_dataset(root: Path, files: dict[str, bytes] = FILES) -> None:
    assert root.name == "MVSA_Single"
    for name, data in files.items():
        assert (root.parent / name).read_bytes() == data


def ranges(server) -> list[str | None]:
    return [r for _, r in server.log]


# ----------------------------------------------------------------------------- (c) download


def test_zip_download_checksum_extract(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    raw = tmp_path / "raw"
    root = download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), raw, **FAST)
    assert root == raw / "MVSA_Single"
    assert_dataset(root)
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA_Single"]  # no archive, .part or temp left
    # second run: the extracted folder is used, no request
    assert download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), raw, **FAST) == root
    assert len(server.log) == 1


def test_targz_download_upper_case_sha256(server, tmp_path):
    data = targz_bytes()
    server.files["/mvsa.tar.gz"] = data
    raw = tmp_path / "raw"
    root = download_dataset("mvsa_single", spec(server.url + "/mvsa.tar.gz", sha(data).upper(), "mvsa.tar.gz"), raw)
    assert_dataset(root)
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA_Single"]


def test_flat_archive_lands_in_extracted_name(server, tmp_path):
    flat = {k.removeprefix("MVSA_Single/"): v for k, v in FILES.items()}
    data = zip_bytes(flat)
    server.files["/flat.zip"] = data
    root = download_dataset("mvsa_single", spec(server.url + "/flat.zip", sha(data), "flat.zip"), tmp_path / "raw")
    assert_dataset(root)


def test_single_other_top_folder_becomes_extracted_name(server, tmp_path, capsys):
    other = {k.replace("MVSA_Single/", "mvsa-single-v2/"): v for k, v in FILES.items()}
    data = zip_bytes(other)
    server.files["/v2.zip"] = data
    root = download_dataset("mvsa_single", spec(server.url + "/v2.zip", sha(data), "v2.zip"), tmp_path / "raw")
    assert_dataset(root)
    assert "holds mvsa-single-v2/, not MVSA_Single/" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["MVSA_Single"]


def test_unknown_sha256_is_computed_printed_recorded(server, tmp_path, capsys):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    raw = tmp_path / "raw"
    root = download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", None), raw, **FAST)
    assert_dataset(root)
    assert sha(data) in capsys.readouterr().err
    assert (raw / "MVSA-Single.zip.sha256").read_text() == f"{sha(data)}  MVSA-Single.zip\n"


@pytest.mark.reliability
def test_wrong_checksum_fails_and_leaves_nothing(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    raw = tmp_path / "raw"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", wrong), raw, retries=0, **FAST)
    msg = str(info.value)
    assert wrong in msg and sha(data) in msg and "params.yaml" in msg
    assert list(raw.iterdir()) == []


@pytest.mark.reliability
def test_interrupted_download_resumes_on_next_run(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    server.drop_after["/MVSA-Single.zip"] = len(data) // 2
    raw = tmp_path / "raw"
    s = spec(server.url + "/MVSA-Single.zip", sha(data))
    with pytest.raises(DownloadError, match="next run resumes") as info:
        download_dataset("mvsa_single", s, raw, retries=0, **FAST)
    assert "ask the authors at example.org" in str(info.value)
    kept = (raw / "MVSA-Single.zip.download" / "MVSA-Single.zip.part").read_bytes()
    assert 0 < len(kept) <= len(data) // 2 and data.startswith(kept)  # whole chunks received before the hang-up
    assert not (raw / "MVSA_Single").exists()

    root = download_dataset("mvsa_single", s, raw, retries=0, **FAST)
    assert_dataset(root)
    assert ranges(server) == [None, f"bytes={len(kept)}-"]
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA_Single"]


@pytest.mark.reliability
def test_killed_download_leaves_a_part_and_resumes(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    server.stall_after["/MVSA-Single.zip"] = len(data) // 2
    raw = tmp_path / "raw"
    s = spec(server.url + "/MVSA-Single.zip", sha(data))
    code = (
        "import json, sys; from pdf_core.data.download import download_dataset; "
        "download_dataset('mvsa_single', json.loads(sys.argv[1]), sys.argv[2], progressbar=False, retries=0)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(s), str(raw)])
    part = raw / "MVSA-Single.zip.download" / "MVSA-Single.zip.part"
    deadline = time.monotonic() + 60
    while not (part.exists() and part.stat().st_size) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()  # SIGKILL mid-transfer: no cleanup runs
    proc.wait()
    server.release.set()
    kept = part.read_bytes()
    assert 0 < len(kept) <= len(data) // 2 and data.startswith(kept)
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA-Single.zip.download"]  # no archive, no dataset folder

    assert_dataset(download_dataset("mvsa_single", s, raw, retries=0, **FAST))
    assert ranges(server) == [None, f"bytes={len(kept)}-"]
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA_Single"]  # the killed run's temporary files swept


@pytest.mark.reliability
def test_interrupted_download_resumes_within_one_call(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    server.drop_after["/MVSA-Single.zip"] = len(data) // 2
    raw = tmp_path / "raw"
    root = download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), raw, retries=1, **FAST)
    assert_dataset(root)
    assert ranges(server)[0] is None and re.fullmatch(r"bytes=[1-9]\d*-", ranges(server)[1])
    assert len(ranges(server)) == 2


@pytest.mark.reliability
def test_server_without_range_support_restarts(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    server.drop_after["/MVSA-Single.zip"] = len(data) // 2
    server.honour_range = False
    raw = tmp_path / "raw"
    root = download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), raw, retries=1, **FAST)
    assert_dataset(root)  # the 200 answer to the Range request replaced the partial file, not appended to it
    assert ranges(server)[0] is None and ranges(server)[1].startswith("bytes=")


@pytest.mark.reliability
def test_range_answered_from_the_wrong_byte_restarts(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    server.drop_after["/MVSA-Single.zip"] = len(data) // 2
    server.ranges_start_at_zero = True  # a 206 whose body starts at byte 0, not where the .part ends
    raw = tmp_path / "raw"
    root = download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), raw, retries=2, **FAST)
    assert_dataset(root)
    assert ranges(server)[0] is None and ranges(server)[1].startswith("bytes=") and ranges(server)[2] is None


@pytest.mark.reliability
def test_part_longer_than_the_file_restarts(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    raw = tmp_path / "raw"
    work = raw / "MVSA-Single.zip.download"
    work.mkdir(parents=True)
    (work / "MVSA-Single.zip.part").write_bytes(data + b"junk")  # e.g. left by a different, larger file
    root = download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), raw, retries=1, **FAST)
    assert_dataset(root)
    assert ranges(server) == [f"bytes={len(data) + 4}-", None]  # 416, then from scratch


@pytest.mark.reliability
def test_http_404_names_manual_placement(server, tmp_path):
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError) as info:
        download_dataset("mvsa_single", spec(server.url + "/missing.zip", None), raw, retries=0, **FAST)
    msg = str(info.value)
    assert "404" in msg and "ask the authors at example.org" in msg
    assert str((raw / "MVSA-Single.zip").resolve()) in msg and str((raw / "MVSA_Single").resolve()) in msg
    assert list(raw.iterdir()) == []


@pytest.mark.reliability
def test_unsafe_downloaded_archive_is_rejected_and_removed(server, tmp_path):
    data = zip_bytes({"MVSA_Single/a.txt": b"x", "../evil": b"pwned"})
    server.files["/MVSA-Single.zip"] = data
    raw = tmp_path / "raw"
    with pytest.raises(ValueError, match="evil"):
        download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), raw, **FAST)
    assert list(raw.iterdir()) == []
    assert not (tmp_path / "evil").exists()


# ----------------------------------------------------------------------------- (a), (b), (d) no network


def test_placed_archive_used_without_network(tmp_path, closed_port_url):
    raw = tmp_path / "raw"
    raw.mkdir()
    data = targz_bytes()
    (raw / "MVSA-Single.tar.gz").write_bytes(data)
    root = download_dataset("mvsa_single", spec(closed_port_url, sha(data), "MVSA-Single.tar.gz"), raw, **FAST)
    assert_dataset(root)
    assert (raw / "MVSA-Single.tar.gz").read_bytes() == data  # the user's file is kept


@pytest.mark.reliability
def test_placed_archive_with_wrong_checksum_is_kept(tmp_path, closed_port_url):
    raw = tmp_path / "raw"
    raw.mkdir()
    data = zip_bytes()
    (raw / "MVSA-Single.zip").write_bytes(data)
    with pytest.raises(ChecksumError, match=sha(data)):
        download_dataset("mvsa_single", spec(closed_port_url, "1" * 64), raw, **FAST)
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA-Single.zip"]


@pytest.mark.reliability
def test_placed_unsafe_archive_is_refused_and_kept(tmp_path, closed_port_url):
    raw = tmp_path / "raw"
    raw.mkdir()
    data = zip_bytes({"MVSA_Single/a.txt": b"x", "MVSA_Single/../../evil": b"pwned"})
    (raw / "MVSA-Single.zip").write_bytes(data)
    with pytest.raises(ValueError, match=r"MVSA-Single\.zip.*MVSA_Single/\.\./\.\./evil"):
        download_dataset("mvsa_single", spec(closed_port_url, sha(data)), raw, **FAST)
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA-Single.zip"]  # no temp folder, no partial target


def test_placed_folder_used_without_network(tmp_path, closed_port_url):
    raw = tmp_path / "raw"
    (raw / "MVSA_Single").mkdir(parents=True)
    (raw / "MVSA_Single" / "labelResultAll.txt").write_text("ID\ttext,image\n")
    root = download_dataset("mvsa_single", spec(closed_port_url, "2" * 64), raw, **FAST)
    assert root == raw / "MVSA_Single"


def test_stale_extraction_temp_is_removed(tmp_path, closed_port_url):
    raw = tmp_path / "raw"
    stale = raw / ".MVSA-Single.zip.abc123.extracting" / "MVSA_Single"
    stale.mkdir(parents=True)  # what a SIGKILL during extraction leaves
    data = zip_bytes()
    (raw / "MVSA-Single.zip").write_bytes(data)
    assert_dataset(download_dataset("mvsa_single", spec(closed_port_url, sha(data)), raw, **FAST))
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA-Single.zip", "MVSA_Single"]


@pytest.mark.reliability
def test_nothing_and_no_url_says_where_to_put_it(tmp_path):
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError) as info:
        download_dataset("mvsa_single", spec(None, None), raw, **FAST)
    msg = str(info.value)
    assert "ask the authors at example.org" in msg
    assert str((raw / "MVSA-Single.zip").resolve()) in msg
    assert str((raw / "MVSA_Single").resolve()) in msg


@pytest.mark.reliability
def test_unreachable_url_says_where_to_put_it(tmp_path, closed_port_url):
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError, match="ask the authors"):
        download_dataset("mvsa_single", spec(closed_port_url, None), raw, retries=0, **FAST)
    assert not raw.exists() or list(raw.iterdir()) == []


@pytest.mark.reliability
@pytest.mark.parametrize("key,value", [("filename", "../x.zip"), ("extracted_name", ".."), ("filename", None)])
def test_bad_spec_name_rejected(tmp_path, key, value):
    with pytest.raises(ValueError, match=key):
        download_dataset("x", {**spec(None, None), key: value}, tmp_path, **FAST)


# ----------------------------------------------------------------------------- download_glove


def glove(target: Path, url: str | None, sha256: str | None) -> Path:
    spec_ = {"source": str(target), "download": {"url": url, "sha256": sha256}}
    return download_glove(spec_, "glove_test", retries=0, **FAST)


def test_glove_zip_downloaded_and_unpacked_to_source(server, tmp_path):
    text = b"the 0.1 0.2\ncat 0.3 0.4\n"
    data = zip_bytes({"glove.test.txt": text})
    server.files["/glove.test.zip"] = data
    target = tmp_path / "glove" / "glove.test.txt"
    assert glove(target, server.url + "/glove.test.zip", sha(data)) == target
    assert target.read_bytes() == text
    # the zip is kept; no temp folder or .part is left
    assert sorted(p.name for p in target.parent.iterdir()) == ["glove.test.txt", "glove.test.zip"]
    target.unlink()  # a later run re-extracts the kept zip without network
    assert glove(target, server.url + "/glove.test.zip", sha(data)) == target
    assert target.read_bytes() == text and len(server.log) == 1


@pytest.mark.reliability
def test_glove_zip_without_the_file_is_refused(server, tmp_path):
    data = zip_bytes({"other.txt": b"x 1\n"})
    server.files["/glove.test.zip"] = data
    target = tmp_path / "glove" / "glove.test.txt"
    with pytest.raises(ValueError, match=r"glove\.test\.zip: holds no glove\.test\.txt"):
        glove(target, server.url + "/glove.test.zip", sha(data))
    assert sorted(p.name for p in target.parent.iterdir()) == ["glove.test.zip"]


@pytest.mark.reliability
def test_glove_no_url_says_where_to_put_it(tmp_path):
    target = tmp_path / "glove" / "glove.test.txt"
    with pytest.raises(DownloadError) as info:
        glove(target, None, None)
    msg = str(info.value)
    assert "nlp.stanford.edu" in msg and str(target.resolve()) in msg
    assert str((tmp_path / "glove" / "glove.test.zip").resolve()) in msg


@pytest.mark.reliability
def test_glove_wrong_checksum_then_unpinned_download_records_sha256(server, tmp_path):
    data = zip_bytes({"glove.test.txt": bytes(range(256)) * 8192})
    server.files["/glove.test.zip"] = data
    target = tmp_path / "glove" / "glove.test.txt"
    with pytest.raises(ChecksumError):
        glove(target, server.url + "/glove.test.zip", "f" * 64)
    assert list(target.parent.iterdir()) == []
    assert glove(target, server.url + "/glove.test.zip", None) == target
    assert (target.parent / "glove.test.zip.sha256").read_text().split()[0] == sha(data)
