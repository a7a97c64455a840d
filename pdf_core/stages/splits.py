"""Stage ``splits``: ``{train,dev,test}.jsonl`` from the raw labels and texts (never opens images)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, dataset_block

SCOPE = "dataset"
STAMP_DIR = "data/splits"
UPSTREAM = ("raw_data",)


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    ds = params["datasets"][dataset]
    settings = {"kind": ds["kind"], "raw_dir": ds["raw_dir"], "split": ds["split"]}
    if ds["kind"] == "table":  # the user's own table decides the splits: an edit of it reruns them
        table = Path(ds["raw_dir"]) / ds["split"]["file"]
        settings["table_sha256"] = hashlib.sha256(table.read_bytes()).hexdigest() if table.is_file() else None
    return settings


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    return [paths.splits_dir(dataset)]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)


def run(params: dict, args) -> None:
    from pdf_core.data.splits import build_splits

    dataset_block(params, args.dataset)
    settings = reads(params, args.dataset)
    counts = build_splits(settings["kind"], settings["raw_dir"], paths.splits_dir(args.dataset), settings["split"])
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
