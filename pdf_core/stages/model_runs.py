"""What the stages that run a model (tune, train, evaluate) share: what they read and their inputs.
Not a stage itself."""

from __future__ import annotations

from pdf_core import paths
from pdf_core.stages import feature_reads


def run_reads(params: dict, dataset: str, model: str) -> dict:
    """The model's merged settings, and the dataset's encoders and feature settings its inputs come from."""
    from pdf_core.settings import model_hparams

    return {
        "hparams": model_hparams(params, model, dataset),
        **feature_reads(params, dataset),
    }


def model_outputs(dataset: str, model: str) -> list:
    """Every run of the model and its training curves."""
    return [paths.model_dir(dataset, model), paths.model_curves_dir(dataset, model)]


def split_inputs(ds: dict, hp, split: str):
    """Frozen mode reads the encoder caches; finetune mode the image store and token ids."""
    from pdf_core.inputs import finetune_inputs, frozen_inputs

    if hp.mode == "frozen":
        return frozen_inputs(paths.frozen_clean(ds["name"], split))
    return finetune_inputs(paths.features_dir(ds["name"]), split, ds, paths.glove_dir(ds["name"]))


def n_classes(dataset: str) -> int:
    from pdf_core.io_utils import read_json

    return len(read_json(paths.classes_file(dataset)))
