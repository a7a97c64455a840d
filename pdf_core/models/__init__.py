"""The model registry: a ``model`` name in params.yaml -> its class.

Each module of this package except ``base`` is one model, named after the module (``qmf.py`` ->
``qmf``). It defines ``MODEL``, its :class:`~pdf_core.models.base.FusionModel` subclass, and
``GROUP``, its row group in the paper-style tables (``unimodal``, ``static`` or ``dynamic`` fusion),
and, when it has hyper-parameters of its own, ``SETTINGS``: JSON-schema properties with a
``default`` each; ``ENCODER_INSIDE = True`` marks a model that runs BERT itself even in frozen mode
(its jobs are the slow ones, which the workflow starts first). All are plain literals. The schema of
``params.yaml`` (``grid.models`` and the keys allowed under ``models.<name>``), the Snakemake wildcard
constraint and the row groups of the paper-style tables come from here. Names and settings are read
from the source without importing the module, so building the workflow's DAG never imports torch.
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
_NOT_MODELS = {"__init__", "base"}


def model_names() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.py") if p.stem not in _NOT_MODELS)


def model_file(name: str) -> Path:
    return MODELS_DIR / f"{name}.py"


def _check_name(name: str) -> None:
    if name not in model_names():
        raise ValueError(f"model {name!r} is not implemented; available: {', '.join(model_names())}")


GROUPS = ("unimodal", "static", "dynamic")


_MISSING = object()


def _module_literal(name: str, variable: str, default=_MISSING):
    _check_name(name)
    path = model_file(name)
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == variable for t in node.targets):
            return ast.literal_eval(node.value)
    if default is _MISSING:
        raise ValueError(f"{path}: a model module must define {variable} as a literal (pdf_core/models/__init__.py)")
    return default


@functools.cache
def model_settings(name: str) -> dict[str, dict]:
    """The ``SETTINGS`` literal of model ``name``: its own keys as JSON-schema properties."""
    settings = _module_literal(name, "SETTINGS", default={})
    missing = [key for key, prop in settings.items() if "default" not in prop]
    if missing:
        raise ValueError(f"{model_file(name)}: SETTINGS keys {missing} have no 'default'")
    return settings


@functools.cache
def model_group(name: str) -> str:
    """The ``GROUP`` literal of model ``name``: unimodal, static or dynamic."""
    group = _module_literal(name, "GROUP")
    if group not in GROUPS:
        raise ValueError(f"{model_file(name)}: GROUP must be one of {', '.join(GROUPS)}, not {group!r}")
    return group


@functools.cache
def encoder_inside(name: str) -> bool:
    """The ``ENCODER_INSIDE`` literal of model ``name`` (False when absent)."""
    return bool(_module_literal(name, "ENCODER_INSIDE", default=False))


def model_class(name: str):
    _check_name(name)
    return importlib.import_module(f"{__name__}.{name}").MODEL


def build_model(name: str, dims, n_classes: int, hp, n_train: int):
    """An instance of model ``name``; ``hp`` is its :class:`pdf_core.settings.RunSettings`."""
    return model_class(name)(dims, n_classes, hp, n_train)
