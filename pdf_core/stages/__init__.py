"""The pipeline's stages, one module each: ``python -m pdf_core <stage>`` runs one, a Snakemake rule group
(``workflow/rules/``) runs each of its jobs.

A stage module defines

* ``SCOPE``: whose stage it is — ``"dataset"`` (one job family per dataset), ``"model"`` (per dataset x
  model) or ``"grid"`` (one for the whole grid);
* ``STAMP_DIR``: where its settings stamps live (inside its outputs' DVC-tracked folder, so they travel
  together);
* ``UPSTREAM``: the stages whose outputs it reads (``"raw_data"`` stands for ``generate`` or ``download``,
  by the dataset's kind);
* ``reads(params, dataset, model)``: every setting that decides what its outputs contain. ``run`` takes its
  settings from this function and the stage's settings stamp hashes it (:mod:`pdf_core.stamps`), so what
  reruns a stage and what the stage reads are one declaration. Which outputs exist (the grid's datasets,
  models, seeds and noise conditions) is in their paths, not here: a new seed is a missing file, not a
  changed setting;
* ``outputs(params, dataset, model)``: what a new stamp makes stale (deleted before the stage reruns);
* ``add_arguments(parser)`` and ``run(params, args)``.

The code a stage runs is its module's import closure (:mod:`pdf_core.codedeps`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

# pipeline order (the CLI lists them so)
STAGES = (
    "generate",
    "download",
    "splits",
    "glove",
    "features",
    "encode",
    "encode_noisy",
    "tune",
    "train",
    "evaluate",
    "aggregate",
)


def stage_module(name: str) -> ModuleType:
    if name not in STAGES:
        raise ValueError(f"no stage {name!r}; stages: {', '.join(STAGES)}")
    return importlib.import_module(f"{__name__}.{name}")


RAW_DATA_STAGES = ("generate", "download")


def raw_data_stage(params: dict, dataset: str) -> str:
    """The stage that puts a dataset's raw data in place: generated, or downloaded / picked up."""
    return "generate" if params["datasets"][dataset]["kind"] == "synthetic" else "download"


def dataset_block(params: dict, name: str) -> dict:
    """The dataset's block with its encoder specs resolved (:func:`pdf_core.config.dataset_config`)."""
    from pdf_core.config import ParamsError, dataset_config

    if name not in params["datasets"]:
        defined = ", ".join(params["datasets"])
        raise ParamsError(f"dataset {name!r} is not defined under 'datasets' in params.yaml (defined: {defined})")
    return dataset_config(params, name)


def feature_reads(params: dict, dataset: str) -> dict:
    """What a dataset's frozen features and its models' inputs come from: its three encoder specs (text,
    image, GloVe), resolved, and the ``features`` settings."""
    ds = dataset_block(params, dataset)
    specs = {key: ds[key] for key in ("text_encoder_spec", "image_encoder_spec", "glove_spec")}
    return {"encoders": specs, "features": params["features"]}


def add_dataset_argument(parser) -> None:
    parser.add_argument("--dataset", required=True, help="a dataset under `datasets`")


def add_run_arguments(parser, seeds: str = "one") -> None:
    """--dataset, --model and --seed (one, or several with ``seeds="many"``)."""
    add_dataset_argument(parser)
    parser.add_argument("--model", required=True, help="a model under `grid.models` (pdf_core.models)")
    if seeds == "many":
        parser.add_argument("--seed", type=int, nargs="+", required=True, help="one or more train seeds, one process")
    else:
        parser.add_argument("--seed", type=int, required=True)
