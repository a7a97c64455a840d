"""The settings of one run, as a typed object: what the trainer, the evaluator and a model read.

Resolution order (:func:`setting_layers`; a later layer wins, key by key):

1. ``train`` — every run's defaults;
2. the model's own ``SETTINGS`` defaults (``pdf_core/models/<name>.py``; keys ``train`` does not have);
3. ``models.<name>`` — the model's overrides;
4. ``datasets.<dataset>.models.<name>`` — the model's overrides on that dataset only;
5. ``parity`` — the switches a model reads (``RUN_PARITY_KEYS``: its heads, the token layout MMBT reads).

:func:`model_hparams` merges them (Snakemake uses it as the train/evaluate jobs' params and settings
stamps); :func:`run_settings` types the result. Each model gets its own frozen dataclass (its keys are
attributes, a misspelt one is an AttributeError at construction, not a silent default), built from its
SETTINGS.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
from typing import Any

from pdf_core.models import model_settings
from pdf_core.parity import PARITY_CHOICES, RUN_PARITY_KEYS
from pdf_core.paths import tune_selected
from pdf_core.tune import selected_settings, trials, tuned

log = logging.getLogger(__name__)

_JSON_TYPES = {"number": float, "integer": int, "boolean": bool, "array": list, "string": str, "null": type(None)}


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The ``train`` keys (params.yaml, docs/configuration.md), typed."""

    mode: str
    device: str
    max_epochs: int
    patience: int | None
    micro_batch: int
    grad_accum: int
    partial_accumulation: str
    optimizer: str
    lr: float
    weight_decay: float
    warmup: float
    lr_patience: int
    lr_factor: float
    dropout: float
    img_dropout: float | None
    img_lr_factor: float
    precision: str
    compile: bool
    deterministic: bool
    noise: dict  # train-time corruption: {types, levels, probability} (pdf_core/train_noise.py)
    # `parity` switches (params.yaml): the heads' form, and the token layout of the texts MMBT reads
    heads: str
    token_layout: str
    # the dataset's text encoder, for models that run BERT themselves (MMBT): a checkpoint source,
    # or a dict of transformers.BertConfig fields for a randomly initialised one (tests, benchmarks)
    text_encoder_source: str | dict | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for checkpoints and fingerprints (the form ``model_hparams`` returns)."""
        return dataclasses.asdict(self)


def _python_type(prop: dict):
    if "enum" in prop:
        return str
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    types = [_JSON_TYPES[k] for k in kinds]
    return types[0] if len(types) == 1 else functools.reduce(lambda a, b: a | b, types)


def _default(value):
    if isinstance(value, list | dict):  # each instance gets its own copy
        return dataclasses.field(default_factory=lambda: copy.deepcopy(value))
    return dataclasses.field(default=value)


@functools.cache
def settings_class(model: str) -> type[RunSettings]:
    """``RunSettings`` plus the model's own keys (with their defaults) as typed fields."""
    fields = [(key, _python_type(prop), _default(prop["default"])) for key, prop in model_settings(model).items()]
    return dataclasses.make_dataclass(f"{model}_settings", fields, bases=(RunSettings,), frozen=True)


def make_settings(model: str, values: dict[str, Any]) -> RunSettings:
    """A model's settings from plain values (missing model keys take their defaults)."""
    known = {f.name for f in dataclasses.fields(settings_class(model))}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"model {model!r} has no setting {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key in RUN_PARITY_KEYS:
        if values.get(key) not in PARITY_CHOICES:
            raise ValueError(f"parity.{key} must be one of {', '.join(PARITY_CHOICES)}, not {values.get(key)!r}")
    return settings_class(model)(**values)


def setting_layers(params: dict, model: str, dataset: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The layers of one run's settings, lowest first, each named by where it comes from."""
    layers = [
        ("train", params["train"]),
        (f"pdf_core/models/{model}.py SETTINGS", {key: prop["default"] for key, prop in model_settings(model).items()}),
        (f"models.{model}", params.get("models", {}).get(model) or {}),
    ]
    if dataset is not None:
        overrides = (params["datasets"][dataset].get("models") or {}).get(model) or {}
        layers.append((f"datasets.{dataset}.models.{model}", overrides))
    layers.append(("parity", {key: params["parity"][key] for key in RUN_PARITY_KEYS}))
    return [(name, copy.deepcopy(values)) for name, values in layers]


def model_hparams(params: dict, model: str, dataset: str | None = None) -> dict[str, Any]:
    """Everything one run of ``model`` (on ``dataset``) uses: the layers merged in order.

    With ``dataset``, also its overrides and the dataset's text encoder source (MMBT builds its BERT from it).
    """
    hp: dict[str, Any] = {}
    for _, values in setting_layers(params, model, dataset):
        hp.update(values)
    if dataset is not None:
        text_encoder = params["datasets"][dataset]["text_encoder"]
        hp["text_encoder_source"] = params["encoders"]["text"][text_encoder]["source"]
    return hp


def run_settings(params: dict, model: str, dataset: str | None = None) -> RunSettings:
    """Everything one run of ``model`` (on ``dataset``) uses, from a validated configuration; for a
    method tuned on dev (``tune.models``), with the values the tune stage chose (pdf_core.tune)."""
    values = model_hparams(params, model, dataset)
    if dataset is not None and tuned(params, model):
        chosen = selected_settings(params, dataset, model)
        log.info("%s on %s: settings chosen on dev (%s): %s", model, dataset, tune_selected(dataset, model), chosen)
        values.update(chosen)
    return make_settings(model, values)


def trial_settings(params: dict, model: str, dataset: str, trial: int) -> RunSettings:
    """The settings of one tune trial: the configured ones with the trial's grid point over them."""
    return make_settings(model, {**model_hparams(params, model, dataset), **trials(params, model)[trial]})
