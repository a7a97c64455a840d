"""The settings of one run, as a typed object: what the trainer, the evaluator and a model read.

:func:`run_settings` builds it from a validated configuration: the ``train`` block, the model's own
``SETTINGS`` defaults (``pdf_core/models/<name>.py``) and the ``models.<name>`` overrides, in that
order, plus the ``parity`` switches a model reads — the same overlay as
:func:`pdf_core.config.model_hparams`, which Snakemake uses as the train/evaluate jobs' params.
Each model gets its own frozen dataclass (its keys are attributes, a misspelt one is an
AttributeError at construction, not a silent default), built from its SETTINGS.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

from pdf_core.config import PARITY_CHOICES, RUN_PARITY_KEYS, model_hparams
from pdf_core.models import model_settings

_JSON_TYPES = {"number": float, "integer": int, "boolean": bool, "array": list, "string": str, "null": type(None)}


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The ``train`` keys (params.yaml, README "Parameters"), typed."""

    mode: str
    device: str
    max_epochs: int
    patience: int | None
    micro_batch: int
    grad_accum: int
    optimizer: str
    lr: float
    weight_decay: float
    warmup: float
    lr_patience: int
    lr_factor: float
    dropout: float
    precision: str
    compile: bool
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


def run_settings(params: dict, model: str, dataset: str | None = None) -> RunSettings:
    """Everything one run of ``model`` (on ``dataset``) uses, from a validated configuration."""
    return make_settings(model, model_hparams(params, model, dataset))
