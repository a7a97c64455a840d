"""Stage ``download``: put a real dataset's raw data in place — a copy already in ``raw_dir`` (placed by
hand) is used as it is, otherwise its ``download`` block is fetched — or fetch a GloVe text file."""

from __future__ import annotations

from pathlib import Path

from pdf_core import paths
from pdf_core.stages import dataset_block

SCOPE = "dataset"
STAMP_DIR = "data/raw"
UPSTREAM = ()


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    ds = params["datasets"][dataset]
    return {"kind": ds["kind"], "raw_dir": ds["raw_dir"], "download": ds.get("download")}


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    # the marker only: never the raw data, which may be hand-placed
    return [paths.raw_marker(dataset)]


def add_arguments(parser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset", help="a dataset under `datasets`")
    which.add_argument("--glove", help="a GloVe entry under `encoders.glove` with a `download` block")


def run(params: dict, args) -> None:
    from pdf_core.data.download import download_dataset, download_glove
    from pdf_core.data.splits import existing_root
    from pdf_core.io_utils import write_text

    if args.glove:
        if args.glove not in params["encoders"]["glove"]:
            raise ValueError(f"--glove {args.glove!r} is not defined under encoders.glove")
        print(download_glove(params["encoders"]["glove"][args.glove], args.glove))
        return
    dataset_block(params, args.dataset)
    settings = reads(params, args.dataset)
    if settings["kind"] == "synthetic":
        raise ValueError(f"dataset {args.dataset!r} is synthetic; use `generate`")
    raw_dir = Path(settings["raw_dir"])
    root = existing_root(settings["kind"], raw_dir)  # already in place: no network
    if root is None:
        if not settings["download"]:
            raise ValueError(f"dataset {args.dataset!r}: no data in {raw_dir} and no 'download' block in params.yaml")
        root = download_dataset(args.dataset, settings["download"], raw_dir)
    print(root)
    write_text(paths.raw_marker(args.dataset), f"{Path(root).resolve()}\n")
