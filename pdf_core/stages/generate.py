"""Stage ``generate``: write the synthetic default dataset into its raw directory (no network)."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, dataset_block

SCOPE = "dataset"
STAMP_DIR = "data/raw"
UPSTREAM = ()


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    ds = params["datasets"][dataset]
    return {"kind": ds["kind"], "raw_dir": ds["raw_dir"], "generate": ds.get("generate")}


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    # the marker only: the raw folder itself is the generator's (and may hold what a user placed)
    return [paths.raw_marker(dataset)]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)


def run(params: dict, args) -> None:
    from pdf_core.data.synthetic import generate
    from pdf_core.io_utils import write_text

    dataset_block(params, args.dataset)  # a clear error for an unknown name
    settings = reads(params, args.dataset)
    if settings["kind"] != "synthetic":
        raise ValueError(f"dataset {args.dataset!r} is of kind {settings['kind']}; use `download` for real data")
    root = generate(settings["raw_dir"], **settings["generate"])
    write_text(paths.raw_marker(args.dataset), f"{root.resolve()}\n")
