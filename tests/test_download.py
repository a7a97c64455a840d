"""download_dataset / download_file against a real HTTP server on 127.0.0.1 started here."""

from __future__ import annotations

import hashlib
import io
import re
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pdf_core.data.download import ChecksumError, DownloadError, download_dataset, download_file

FILES = {
    "MVSA_Single/labelResultAll.txt": b"ID\ttext,image\n1\tpositive,positive\n",
    "MVSA_Single/data/1.txt": b"hello world \n",
    "MVSA_Single/data/1.jpg": bytes(range(256)) * 300,  # ~77 kB: several chunks on the wire
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
    """Serves ``server.files``; can drop the connection mid-body and honour Range."""

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
            start = int(m.group(1))
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
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
    srv.files, srv.log, srv.drop_after, srv.honour_range = {}, [], {}, True
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: any network access fails fast
    return f"http://127.0.0.1:{port}/never.zip"


def spec(url, sha256, filename="MVSA-Single.zip", **extra):
    return {
        "url": url,
        "sha256": sha256,
        "filename": filename,
        "extracted_name": "MVSA_Single",
        "instructions": "ask the authors at example.org",
        **extra,
    }


FAST = {"progressbar": False, "backoff": 0.0, "timeout": 5.0}


def assert_dataset(root: Path) -> None:
    assert root.name == "MVSA_Single"
    for name, data in FILES.items():
        assert (root.parent / name).read_bytes() == data


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
    n = len(server.log)
    assert download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), raw, **FAST) == root
    assert len(server.log) == n


def test_targz_download_keep_archive(server, tmp_path):
    data = targz_bytes()
    server.files["/mvsa.tar.gz"] = data
    raw = tmp_path / "raw"
    s = spec(server.url + "/mvsa.tar.gz", sha(data).upper(), filename="mvsa.tar.gz", keep_archive=True)
    root = download_dataset("mvsa_single", s, raw, **FAST)
    assert_dataset(root)
    assert (raw / "mvsa.tar.gz").read_bytes() == data
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA_Single", "mvsa.tar.gz"]


def test_flat_archive_lands_in_extracted_name(server, tmp_path):
    flat = {k.removeprefix("MVSA_Single/"): v for k, v in FILES.items()}
    data = zip_bytes(flat)
    server.files["/flat.zip"] = data
    root = download_dataset(
        "mvsa_single", spec(server.url + "/flat.zip", sha(data), filename="flat.zip"), tmp_path / "raw", **FAST
    )
    assert_dataset(root)


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
        download_dataset("mvsa_single", spec(server.url + "/MVSA-Single.zip", wrong), raw, **FAST)
    msg = str(info.value)
    assert wrong in msg and sha(data) in msg and "params.yaml" in msg
    assert list(raw.iterdir()) == []


@pytest.mark.reliability
def test_interrupted_download_resumes_on_next_run(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    cut = len(data) // 3
    server.drop_after["/MVSA-Single.zip"] = cut
    raw = tmp_path / "raw"
    s = spec(server.url + "/MVSA-Single.zip", sha(data))
    with pytest.raises(DownloadError, match="resume"):
        download_dataset("mvsa_single", s, raw, retries=0, **FAST)
    part = raw / "MVSA-Single.zip.part"
    assert part.read_bytes() == data[:cut]
    assert not (raw / "MVSA_Single").exists()

    root = download_dataset("mvsa_single", s, raw, retries=0, **FAST)
    assert_dataset(root)
    assert server.log == [("/MVSA-Single.zip", None), ("/MVSA-Single.zip", f"bytes={cut}-")]
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA_Single"]


@pytest.mark.reliability
def test_interrupted_download_resumes_within_one_call(server, tmp_path):
    data = targz_bytes()
    server.files["/d.tar.gz"] = data
    cut = len(data) // 2
    server.drop_after["/d.tar.gz"] = cut
    root = download_dataset(
        "mvsa_single",
        spec(server.url + "/d.tar.gz", sha(data), filename="d.tar.gz"),
        tmp_path / "raw",
        retries=2,
        **FAST,
    )
    assert_dataset(root)
    assert [r for _, r in server.log] == [None, f"bytes={cut}-"]


@pytest.mark.reliability
def test_server_without_range_support_restarts(server, tmp_path):
    data = zip_bytes()
    server.files["/MVSA-Single.zip"] = data
    server.drop_after["/MVSA-Single.zip"] = 500
    server.honour_range = False
    root = download_dataset(
        "mvsa_single", spec(server.url + "/MVSA-Single.zip", sha(data)), tmp_path / "raw", retries=1, **FAST
    )
    assert_dataset(root)
    assert [r for _, r in server.log] == [None, "bytes=500-"]  # asked, got a 200, started over


@pytest.mark.reliability
def test_http_404_names_manual_placement(server, tmp_path):
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError) as info:
        download_dataset("mvsa_single", spec(server.url + "/missing.zip", None), raw, **FAST)
    msg = str(info.value)
    assert "404" in msg and "ask the authors at example.org" in msg
    assert str((raw / "MVSA-Single.zip").resolve()) in msg
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
    s = spec(closed_port_url, sha(data), filename="MVSA-Single.tar.gz")
    root = download_dataset("mvsa_single", s, raw, retries=0, **FAST)
    assert_dataset(root)
    assert (raw / "MVSA-Single.tar.gz").read_bytes() == data  # the user's file is kept


@pytest.mark.reliability
def test_placed_archive_with_wrong_checksum_is_kept(tmp_path, closed_port_url):
    raw = tmp_path / "raw"
    raw.mkdir()
    data = zip_bytes()
    (raw / "MVSA-Single.zip").write_bytes(data)
    with pytest.raises(ChecksumError, match=sha(data)):
        download_dataset("mvsa_single", spec(closed_port_url, "1" * 64), raw, retries=0, **FAST)
    assert sorted(p.name for p in raw.iterdir()) == ["MVSA-Single.zip"]


def test_placed_folder_used_without_network(tmp_path, closed_port_url):
    raw = tmp_path / "raw"
    (raw / "MVSA_Single").mkdir(parents=True)
    (raw / "MVSA_Single" / "labelResultAll.txt").write_text("ID\ttext,image\n")
    root = download_dataset("mvsa_single", spec(closed_port_url, "2" * 64), raw, retries=0, **FAST)
    assert root == raw / "MVSA_Single"


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
        download_dataset("mvsa_single", spec(closed_port_url, None), raw, retries=1, **FAST)
    assert not raw.exists() or list(raw.iterdir()) == []


@pytest.mark.reliability
def test_bad_spec_name_rejected(tmp_path):
    with pytest.raises(ValueError, match="filename"):
        download_dataset("x", spec(None, None, filename="../x.zip"), tmp_path, **FAST)


# ----------------------------------------------------------------------------- download_file


def test_download_file_single(server, tmp_path):
    data = b"the 840B vectors, pretend\n" * 5000
    server.files["/glove.840B.300d.zip"] = data
    dest = tmp_path / "glove" / "glove.840B.300d.zip"
    assert download_file(server.url + "/glove.840B.300d.zip", sha(data), dest, progressbar=False) == dest
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == ["glove.840B.300d.zip"]
    n = len(server.log)
    download_file(server.url + "/glove.840B.300d.zip", sha(data), dest, progressbar=False)
    assert len(server.log) == n  # already there: no request


@pytest.mark.reliability
def test_download_file_resume_and_checksum(server, tmp_path):
    data = bytes(range(256)) * 1000
    server.files["/g.zip"] = data
    server.drop_after["/g.zip"] = 7777
    dest = tmp_path / "g.zip"
    with pytest.raises(ChecksumError):
        download_file(server.url + "/g.zip", "f" * 64, dest, retries=1, **FAST)
    assert list(tmp_path.iterdir()) == []
    server.drop_after["/g.zip"] = 7777
    download_file(server.url + "/g.zip", None, dest, retries=1, **FAST)
    assert dest.read_bytes() == data
    assert (tmp_path / "g.zip.sha256").read_text().split()[0] == sha(data)


@pytest.mark.reliability
def test_download_file_no_url(tmp_path):
    with pytest.raises(DownloadError, match=re.escape(str((tmp_path / "g.zip").resolve()))):
        download_file(None, None, tmp_path / "g.zip", instructions="nlp.stanford.edu/projects/glove")


def test_glove_zip_downloaded_and_unpacked_to_source(server, tmp_path):
    from pdf_core.data.download import download_glove

    text = b"the 0.1 0.2\ncat 0.3 0.4\n"
    data = zip_bytes({"glove.test.txt": text})
    server.files["/glove.test.zip"] = data
    target = tmp_path / "glove" / "glove.test.txt"
    target.parent.mkdir()
    spec_ = {"source": str(target), "download": {"url": server.url + "/glove.test.zip", "sha256": sha(data)}}
    assert download_glove(spec_, "glove_test") == target
    assert target.read_bytes() == text
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []  # no temp dir left
