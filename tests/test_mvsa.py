"""MVSA-Single splits: the published QMF split byte for byte, the merged rule, decoding, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pdf_core.data import mvsa

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mvsa_single"
needs_real = pytest.mark.skipif(not (REAL / "labelResultAll.txt").is_file(), reason=f"{REAL} not present")

QMF_SHA256 = {
    "train": "48f04ea3c9ddc2e29ced7df1819ec8b94f2667cf19a093a02ba262b123533793",
    "dev": "b28b9022a2185dc7f18874ff04c0c62a8a6e48538c7cacf1bc46697544059aad",
    "test": "761af22f83c0fc9343eeba7bc903cc8975ab7280d87e035169d530edf973e1c7",
}


def jsonl_bytes(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


@needs_real
def test_qmf_rule_reproduces_published_split(tmp_path):
    splits = mvsa.build_splits(REAL, {"rule": "qmf", "text_decoding": "latin-1"})
    assert list(splits) == ["train", "dev", "test"]
    for split, rows in splits.items():
        out = tmp_path / f"{split}.jsonl"
        with open(out, "w", encoding="utf-8") as fh:  # how pdf_core.data.splits writes them
            for row in rows:
                fh.write(json.dumps(row) + "\n")
        assert hashlib.sha256(out.read_bytes()).hexdigest() == QMF_SHA256[split], split
        assert out.read_bytes() == (REAL / "qmf_splits" / f"{split}.jsonl").read_bytes()
    assert [len(r) for r in splits.values()] == [1555, 518, 519]
    assert list(splits["train"][0]) == ["id", "label", "text", "img"]
    rep = splits.report
    assert rep["kept"] == 2592 and rep["label_file_rows"] == 4869
    assert rep["images_present"] == {"train": 240, "dev": 80, "test": 80}


@needs_real
def test_qmf_default_options_and_parent_dir(tmp_path):
    (tmp_path / "MVSA_Single").symlink_to(REAL)
    splits = mvsa.build_splits(tmp_path, {})
    assert hashlib.sha256(jsonl_bytes(splits["dev"])).hexdigest() == QMF_SHA256["dev"]
    assert splits.report["root"] == str(tmp_path / "MVSA_Single")


@needs_real
def test_merged_rule_counts():
    splits = mvsa.build_splits(REAL, {"rule": "merged"})
    rows = [r for rs in splits.values() for r in rs]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 4511
    labels = {lab: sum(r["label"] == lab for r in rows) for lab in mvsa.LABELS}
    assert labels == {"positive": 2683, "negative": 1358, "neutral": 470}
    # stratified 60/20/20 per label
    per = splits.report["labels"]
    assert per["train"] == {"negative": 814, "neutral": 282, "positive": 1609}
    assert per["dev"] == per["test"] == {"negative": 272, "neutral": 94, "positive": 537}
    # seeded: same seed same split, other seed other split
    assert mvsa.build_splits(REAL, {"rule": "merged", "seed": 0}) == splits
    other = mvsa.build_splits(REAL, {"rule": "merged", "seed": 1})
    assert {r["id"] for r in other["test"]} != {r["id"] for r in splits["test"]}


@needs_real
def test_text_encodings_of_real_slice():
    counts = mvsa.text_encoding_counts(REAL)
    assert counts["gbk"] == 1129 and sum(counts.values()) == 4869


# ----------------------------------------------------------------------------- small fixtures


def make_raw(root: Path, labels: list[str], texts: dict[str, bytes]) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "labelResultAll.txt").write_bytes(("ID\ttext,image\n" + "".join(line + "\n" for line in labels)).encode())
    for sid, raw in texts.items():
        (root / "data" / f"{sid}.txt").write_bytes(raw)
    return root


TEXTS = {
    "1": "café au lait #paris\n".encode(),
    "2": "今天很开心\n".encode("gbk"),
    "3": b"plain ascii  \n",
    "4": b"\xff\xfe odd bytes\n",
    "5": b"no newline at end",
    "6": b"two newlines\n\n",
}


def test_decoding_modes(tmp_path):
    labels = [f"{i}\tpositive,positive" for i in range(1, 7)]
    raw = make_raw(tmp_path / "MVSA_Single", labels, TEXTS)
    faithful = {r["id"]: r["text"] for rs in mvsa.build_splits(raw, {"text_decoding": "latin-1"}).values() for r in rs}
    auto_splits = mvsa.build_splits(raw, {"text_decoding": "auto"})
    auto = {r["id"]: r["text"] for rs in auto_splits.values() for r in rs}
    assert faithful["1"] == "cafÃ© au lait #paris"
    assert auto["1"] == "café au lait #paris"
    assert auto["2"] == "今天很开心" and faithful["2"] == "今天很开心".encode("gbk").decode("latin-1")
    assert auto["3"] == faithful["3"] == "plain ascii  "  # only the newline goes
    assert auto["4"] == faithful["4"] == "\xff\xfe odd bytes"
    assert auto["5"] == "no newline at end"
    assert auto["6"] == "two newlines\n"
    assert auto_splits.report["text_encodings"] == {"ascii": 3, "gbk": 1, "latin-1": 1, "utf-8": 1}
    assert mvsa.text_encoding_counts(raw) == {"ascii": 3, "gbk": 1, "latin-1": 1, "utf-8": 1}


def test_merged_rule_on_small_file(tmp_path):
    labels = [
        "1\tpositive,positive",
        "2\tneutral,negative",
        "3\tpositive,neutral",
        "4\tpositive,negative",
        "5\tnegative,positive",
        "6\tneutral,neutral",
    ]
    raw = make_raw(tmp_path, labels, TEXTS)
    merged = {r["id"]: r["label"] for rs in mvsa.build_splits(raw, {"rule": "merged"}).values() for r in rs}
    assert merged == {"1": "positive", "2": "negative", "3": "positive", "6": "neutral"}
    qmf = {r["id"]: r["label"] for rs in mvsa.build_splits(raw, {"rule": "qmf"}).values() for r in rs}
    assert qmf == {"1": "positive", "6": "neutral"}


@pytest.mark.parametrize(
    "bad",
    [
        "7\tpositive",
        "7 positive,positive",
        "x7\tpositive,positive",
        "7\tpositive,happy",
        "7\tpositive,positive,neutral",
        "1\tneutral,neutral",
    ],
)
def test_malformed_label_row_names_file_and_line(tmp_path, bad):
    raw = make_raw(tmp_path, ["1\tpositive,positive", "2\tneutral,neutral", bad], TEXTS)
    with pytest.raises(ValueError, match=r"labelResultAll\.txt:4"):
        mvsa.build_splits(raw, {})


def test_missing_text_file_is_an_error(tmp_path):
    raw = make_raw(tmp_path, ["1\tpositive,positive", "9\tneutral,neutral"], TEXTS)
    with pytest.raises(FileNotFoundError, match="9.txt"):
        mvsa.build_splits(raw, {})


def test_missing_label_file_says_where(tmp_path):
    with pytest.raises(FileNotFoundError, match="MVSA_Single"):
        mvsa.build_splits(tmp_path, {})


def test_bad_options(tmp_path):
    raw = make_raw(tmp_path, ["1\tpositive,positive"], TEXTS)
    with pytest.raises(ValueError, match="rule"):
        mvsa.build_splits(raw, {"rule": "random"})
    with pytest.raises(ValueError, match="text_decoding"):
        mvsa.build_splits(raw, {"text_decoding": "utf-16"})
