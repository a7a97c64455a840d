"""UPMC Food-101 splits from a small fixture in the real Kaggle layout."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from pdf_core.data import food101
from pdf_core.data.food101 import build_splits, clean_title

CLASSES = ["apple_pie", "creme_brulee", "ramen"]


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def make_food(
    root: Path,
    n_train: dict[str, int],
    special: list[tuple[str, str, str]],
    test: list[tuple[str, str, str]],
    missing: set[str] = frozenset(),
) -> Path:
    train = list(special)
    for label, n in n_train.items():
        train += [(f"{label}_{i}.jpg", f"{label.replace('_', ' ').title()} recipe {i}", label) for i in range(n)]
    for split, rows in (("train", train), ("test", test)):
        write_csv(root / "texts" / f"{split}_titles.csv", rows)
        for filename, _, label in rows:
            if filename in missing:
                continue
            img = root / "images" / split / label / filename
            img.parent.mkdir(parents=True, exist_ok=True)
            img.write_bytes(b"not really a jpeg: never opened")
    return root


SPECIAL = [
    ("apple_pie_900.jpg", "Grandma&#39;s Apple Pie &amp; Cream | Allrecipes.com", "apple_pie"),
    ("creme_brulee_901.jpg", 'Crème Brûlée "Classic" - Food_Network: (Best!)', "creme_brulee"),
    ("ramen_902.jpg", "  Tonkotsu\nRAMEN\t\t~~ 100% {home-made} [v2] ", "ramen"),
    ("ramen_903.jpg", "Ramen, Shoyu; <b>Easy</b> `quick` ^*=+@$", "ramen"),
]
TEST = [
    ("apple_pie_1.jpg", "Apple pie (test)", "apple_pie"),
    ("ramen_1007.jpg", "Miso ramen", "ramen"),
]


@pytest.fixture
def raw(tmp_path):
    return make_food(
        tmp_path / "food101",
        {"apple_pie": 20, "creme_brulee": 10, "ramen": 30},
        SPECIAL,
        TEST,
        missing={"ramen_903.jpg", "ramen_1007.jpg"},
    )


def test_rows_and_cleaning(raw):
    splits = build_splits(raw, {"dev_size": 10, "seed": 0})
    rows = {r["id"]: r for rs in splits.values() for r in rs}
    assert rows["apple_pie_apple_pie_900.jpg"] in splits["train"] + splits["dev"]
    assert rows["apple_pie_apple_pie_900.jpg"] == {
        "id": "apple_pie_apple_pie_900.jpg",
        "label": "apple_pie",
        "text": "grandma 39 s apple pie amp cream | allrecipes com",  # entities not unescaped (as MMBT)
        "img": "images/train/apple_pie/apple_pie_900.jpg",
    }
    # MMBT does not strip: punctuation or spaces at an end leave one space there
    assert rows["creme_brulee_creme_brulee_901.jpg"]["text"] == "crème brûlée classic food network best "
    assert rows["ramen_ramen_902.jpg"]["text"] == " tonkotsu ramen 100 home made v2 "
    assert rows["ramen_ramen_903.jpg"]["text"] == "ramen shoyu b easy b quick "
    assert splits["test"] == [
        {
            "id": "apple_pie_apple_pie_1.jpg",
            "label": "apple_pie",
            "text": "apple pie test ",  # the closing parenthesis leaves a space (MMBT does not strip)
            "img": "images/test/apple_pie/apple_pie_1.jpg",
        },
        {
            "id": "ramen_ramen_1007.jpg",
            "label": "ramen",
            "text": "miso ramen",
            "img": "images/test/ramen/ramen_1007.jpg",
        },
    ]
    assert all(list(r) == ["id", "label", "text", "img"] for r in rows.values())
    json.dumps(splits["train"])  # plain JSON-able rows


def test_missing_images_kept_and_counted(raw):
    splits = build_splits(raw, {"dev_size": 10})
    rep = splits.report
    ids = {r["id"] for rs in splits.values() for r in rs}
    assert "ramen_ramen_903.jpg" in ids and "ramen_ramen_1007.jpg" in ids
    assert rep["missing_images"]["test"] == 1
    assert rep["missing_images"]["train"] + rep["missing_images"]["dev"] == 1
    assert rep["rows"] == {"train": 54, "dev": 10, "test": 2}


def test_dev_is_stratified_seeded_and_disjoint(raw):
    splits = build_splits(raw, {"dev_size": 16, "seed": 3})
    dev = Counter(r["label"] for r in splits["dev"])
    # 64 train rows: apple_pie 21, creme_brulee 11, ramen 32 -> 16 * share, largest remainder
    assert dev == {"apple_pie": 5, "creme_brulee": 3, "ramen": 8}
    train_ids = {r["id"] for r in splits["train"]}
    dev_ids = {r["id"] for r in splits["dev"]}
    assert not train_ids & dev_ids and len(train_ids | dev_ids) == 64
    assert build_splits(raw, {"dev_size": 16, "seed": 3}) == splits
    other = build_splits(raw, {"dev_size": 16, "seed": 4})
    assert {r["id"] for r in other["dev"]} != dev_ids


def test_default_dev_size_is_5000(tmp_path):
    raw = make_food(tmp_path, {c: 2000 for c in CLASSES}, [], TEST)
    splits = build_splits(raw, {})
    assert len(splits["dev"]) == 5000 and len(splits["train"]) == 1000
    assert Counter(r["label"] for r in splits["dev"]) == {c: 1667 for c in CLASSES[:2]} | {"ramen": 1666}


def test_parent_dir_and_header_row(tmp_path):
    root = make_food(tmp_path / "upmc", {"ramen": 5}, [], TEST)
    csv_path = root / "texts" / "train_titles.csv"
    csv_path.write_text("image_path,text,food\n" + csv_path.read_text(encoding="utf-8"), encoding="utf-8")
    splits = build_splits(tmp_path, {"dev_size": 1})
    assert splits.report["root"] == str(root)
    assert len(splits["train"]) + len(splits["dev"]) == 5


def test_split_building_never_opens_images(raw, monkeypatch):
    import builtins

    real_open = builtins.open

    def guarded(file, *a, **k):
        assert not str(file).endswith(".jpg"), f"opened image {file}"
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", guarded)
    build_splits(raw, {"dev_size": 5})


def test_malformed_csv_row_names_file_and_line(raw):
    path = raw / "texts" / "train_titles.csv"
    path.write_text(path.read_text(encoding="utf-8") + "ramen_99.jpg,only two columns\n", encoding="utf-8")
    n = len(path.read_text(encoding="utf-8").splitlines())
    with pytest.raises(ValueError, match=rf"train_titles\.csv:{n}"):
        build_splits(raw, {"dev_size": 5})


def test_missing_texts_folder_says_where(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_titles.csv"):
        build_splits(tmp_path, {})


def test_bad_dev_size(raw):
    with pytest.raises(ValueError, match="dev_size"):
        build_splits(raw, {"dev_size": 10_000})


def test_clean_title_matches_mmbt_rules():
    assert clean_title("A<>/\\+=-_[]{}'\";:.,()*&^%$#@!~`B") == "a b"
    assert clean_title("Keep|Pipe\n\nand\r\nnewlines") == "keep|pipe and newlines"
    # punctuation at either end becomes one kept space (QMF's published test.jsonl has such rows)
    assert clean_title("(Best) Pie!") == " best pie "
    assert clean_title("...Pie") == " pie"
    assert clean_title("Pie") == "pie"
    # a lone newline becomes a space after the run collapse; a lone carriage return or tab is kept (as MMBT)
    assert clean_title("a\nb\rc\td") == "a b\rc\td"
    assert food101.clean_title("") == ""
