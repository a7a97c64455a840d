"""Stage ``features``: decode, validate and resize every image once into a uint8 store; tokenize every text once."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import add_dataset_argument, dataset_block

SCOPE = "dataset"
STAMP_DIR = "data/features"
UPSTREAM = ("raw_data", "splits")


def reads(params: dict, dataset: str, model: str | None = None) -> dict:
    ds = dataset_block(params, dataset)
    return {
        "kind": ds["kind"],
        "raw_dir": ds["raw_dir"],
        "extracted_name": (ds.get("download") or {}).get("extracted_name"),
        "text_encoder": ds["text_encoder_spec"],
        "image_size": params["features"]["image_size"],
        "image_policy": params["features"]["image_policy"],
    }


def outputs(params: dict, dataset: str, model: str | None = None) -> list:
    store = [paths.features_dir(dataset) / split for split in paths.SPLITS]
    return store + [paths.classes_file(dataset), paths.data_report(dataset)]


def add_arguments(parser) -> None:
    add_dataset_argument(parser)


def run(params: dict, args) -> None:
    from pdf_core.data.splits import dataset_root
    from pdf_core.features.store import build_features

    settings = reads(params, args.dataset)
    build_features(
        paths.splits_dir(args.dataset),
        dataset_root(settings["kind"], settings["raw_dir"], settings["extracted_name"]),
        paths.features_dir(args.dataset),
        settings["text_encoder"],
        settings["image_size"],
        settings["image_policy"],
    )
