"""Stage ``glove``: the GloVe vectors of the dataset's vocabulary (one streaming pass over the source)."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, dataset_block

SCOPE = "dataset"
STAMP_DIR = "data/glove"
UPSTREAM = ("splits",)


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    return dataset_block(params, dataset)["glove_spec"]


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    return [paths.glove_dir(dataset)]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)


def run(params: dict, args) -> None:
    from pdf_core.data.glove import extract_glove

    spec = reads(params, args.dataset)
    extract_glove(
        paths.split_files(args.dataset),
        spec["source"],
        spec.get("lowercase", True),
        paths.glove_dir(args.dataset),
        mask_token=spec["bag_of_words"] == "original",
    )
