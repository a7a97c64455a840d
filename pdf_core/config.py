"""Loading and validating ``params.yaml``, and resolving per-run settings from it.

Validation runs before any job starts (the Snakefile calls :func:`validate_params`), and
every error names the offending key so the user knows what to edit.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pdf_core.io_utils import write_text
from pdf_core.models import model_names, model_settings
from pdf_core.noise_types import NOISE_TYPE_NAMES
from pdf_core.parity import PARITY_CHOICES, PARITY_SWITCHES
from pdf_core.train_noise import config_problems as train_noise_problems

if TYPE_CHECKING:
    import jsonschema

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = PROJECT_ROOT / "workflow" / "schemas" / "params.schema.yaml"
DATASET_REGISTRY = Path(__file__).resolve().parent / "data" / "splits.py"


class ParamsError(ValueError):
    """params.yaml is invalid; the message names the key and what to do."""


def _key_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        keys = ", ".join(repr(k) for k in extra)
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {keys} under '{where}'{hint}"
    if error.validator == "propertyNames":
        return f"'{where}': {error.message}"
    if error.validator == "required":
        return f"missing key under '{where}': {error.message}"
    if error.validator == "enum":
        return f"'{where}': {error.instance!r} is not one of {error.validator_value}"
    return f"'{where}': {error.message}"


@functools.cache
def _schema_text() -> str:
    return SCHEMA_PATH.read_text(encoding="utf-8")


@functools.cache
def dataset_kinds() -> list[str]:
    """The kinds of ``pdf_core.data.splits.DATASET_KINDS``, read from its source: importing that module
    would make every stage that validates params depend on every dataset module (pdf_core/codedeps.py
    follows the module names in it)."""
    for node in ast.parse(DATASET_REGISTRY.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DATASET_KINDS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise ValueError(f"{DATASET_REGISTRY}: DATASET_KINDS must be a plain dict literal")


def load_schema() -> dict:
    """The schema of params.yaml, with the models (names and each one's own keys), the noise types, the
    parity choices and the dataset kinds filled in from their registries."""
    schema = yaml.safe_load(_schema_text())
    defs = schema["$defs"]
    defs["noiseType"]["enum"] = list(NOISE_TYPE_NAMES)
    defs["parityChoice"]["enum"] = list(PARITY_CHOICES)
    parity = schema["properties"]["parity"]
    parity["required"] = list(PARITY_SWITCHES)
    parity["properties"] = {
        name: {"$ref": "#/$defs/parityChoice", "description": f"original: {what}"}
        for name, what in PARITY_SWITCHES.items()
    }
    defs["datasetKind"]["enum"] = dataset_kinds()
    defs["modelName"]["enum"] = model_names()
    defs["modelOverrides"]["properties"] = {
        name: {
            "type": "object",
            "additionalProperties": False,
            "properties": {**defs["trainKeys"], **model_settings(name)},
        }
        for name in model_names()
    }
    return schema


def validate_params(params: dict, source: str = "params.yaml") -> dict:
    """Check ``params`` against the schema and the cross-references the schema cannot express."""
    import jsonschema  # here, not at module level: the trainer imports this module on machines without it

    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(params), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        # The most specific error first: a deep path says more than "is not valid under any schema".
        best = max(errors, key=lambda e: len(e.absolute_path))
        raise ParamsError(f"{source}: {_describe(best)}")
    problems = []
    for i, name in enumerate(params["grid"]["datasets"]):
        if name not in params["datasets"]:
            problems.append(
                f"'grid.datasets[{i}]': dataset {name!r} has no block under 'datasets' "
                f"(defined: {', '.join(params['datasets'])})"
            )
    for name, ds in params["datasets"].items():
        for role, key in (("text", "text_encoder"), ("image", "image_encoder"), ("glove", "glove")):
            if ds[key] not in params["encoders"][role]:
                problems.append(
                    f"'datasets.{name}.{key}': {ds[key]!r} is not defined under 'encoders.{role}' "
                    f"(defined: {', '.join(params['encoders'][role])})"
                )
        if ds["kind"] == "synthetic" and "generate" not in ds:
            problems.append(f"'datasets.{name}': kind synthetic needs a 'generate' block")
    problems += train_noise_problems(params)
    problems += _tune_problems(params, schema["$defs"]["trainKeys"])
    if problems:
        raise ParamsError(f"{source}: " + "; ".join(problems))
    return params


# train keys a tune grid may not name: chosen by the user or the hardware, never on dev accuracy (train-time
# corruption is a study's axis, and the dev split it would be chosen on is clean)
UNTUNABLE = ("mode", "device", "precision", "compile", "deterministic", "noise")


def _tune_problems(params: dict, train_keys: dict) -> list[str]:
    """Each tuned model's grid names only settings of that model, with values its schema allows."""
    import jsonschema

    tune = params["tune"]
    problems = [
        f"'tune.model_grids.{name}': {name!r} is not in tune.models"
        for name in tune["model_grids"]
        if name not in tune["models"]
    ]
    for name in tune["models"]:
        allowed = {k: v for k, v in train_keys.items() if k not in UNTUNABLE} | model_settings(name)
        for where, grid in (("tune.grid", tune["grid"]), (f"tune.model_grids.{name}", tune["model_grids"].get(name))):
            for key, values in (grid or {}).items():
                if key not in allowed:
                    problems.append(
                        f"'{where}.{key}': not a setting {name} can tune; allowed: {', '.join(sorted(allowed))}"
                    )
                    continue
                for i, value in enumerate(values):
                    error = jsonschema.exceptions.best_match(
                        jsonschema.Draft202012Validator(allowed[key]).iter_errors(value)
                    )
                    if error is not None:
                        problems.append(f"'{where}.{key}[{i}]' (for {name}): {error.message}")
    return problems


def _read_mapping(path: Path) -> dict:
    if not path.exists():
        raise ParamsError(f"{path}: file not found; run from the project root or pass --params")
    with open(path, encoding="utf-8") as fh:
        try:
            params = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return params


def overlay(base: dict, update: dict) -> dict:
    """``update`` over ``base`` as Snakemake merges a ``--configfile``: mappings key by key, recursively;
    any other value, lists included, replaced. A preset therefore restates whole grid lists, and
    cannot remove a key (it must override every `models.<name>` key of params.yaml it does not want)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_params(path: str | Path = "params.yaml", configfiles: tuple[str | Path, ...] = ()) -> dict:
    """``path`` overlaid by each of ``configfiles`` in turn (``snakemake --configfile``), validated."""
    params = _read_mapping(Path(path))
    for configfile in configfiles:
        params = overlay(params, _read_mapping(Path(configfile)))
    return validate_params(params, source=" + ".join(str(p) for p in (path, *configfiles)))


def dataset_config(params: dict, dataset: str) -> dict[str, Any]:
    """The dataset block with its encoder specs resolved by name.

    The ``parity`` switches that change what an encoder produces travel in its spec, so every stage
    that reads the spec (and every settings stamp that hashes it) sees them: ``token_layout`` in the
    text spec, ``bag_of_words`` in the GloVe spec.
    """
    ds = copy.deepcopy(params["datasets"][dataset])
    ds["name"] = dataset
    parity = params["parity"]
    ds["text_encoder_spec"] = dict(
        params["encoders"]["text"][ds["text_encoder"]], name=ds["text_encoder"], token_layout=parity["token_layout"]
    )
    ds["image_encoder_spec"] = dict(params["encoders"]["image"][ds["image_encoder"]], name=ds["image_encoder"])
    ds["glove_spec"] = dict(
        params["encoders"]["glove"][ds["glove"]], name=ds["glove"], bag_of_words=parity["bag_of_words"]
    )
    return ds


def typed_overrides(overrides: Any) -> Any:
    """``--config`` values with YAML types restored below the top level.

    Snakemake parses a nested ``--config models={qmf: {lr: 0.01}}`` with YAML's BaseLoader, so
    every leaf arrives as a string ('0.01'); read each leaf as YAML, as params.yaml itself is read.
    """
    if isinstance(overrides, dict):
        return {key: typed_overrides(value) for key, value in overrides.items()}
    if isinstance(overrides, list):
        return [typed_overrides(value) for value in overrides]
    if isinstance(overrides, str):
        try:
            return yaml.safe_load(overrides) if overrides else overrides
        except yaml.YAMLError:
            return overrides
    return overrides


def resolve_workflow_config(config: dict, workflow) -> dict:
    """The Snakefile's ``config`` made the run's configuration, in place: ``--config`` values typed
    (:func:`typed_overrides`), then validated, errors naming the files it came from."""
    from snakemake.utils import update_config

    overrides = dict(workflow.config_settings.config)
    update_config(config, typed_overrides(overrides))
    sources = ["params.yaml", *map(str, workflow.overwrite_configfiles)] + ["--config"] * bool(overrides)
    return validate_params(config, source=" + ".join(sources))


RESOLVED_DIR = Path(".pdf_core") / "params"


def write_resolved(params: dict, directory: str | Path = RESOLVED_DIR) -> Path:
    """Write the configuration Snakemake resolved (params.yaml + --configfile + --config) for its jobs.

    Every job runs ``python -m pdf_core --params <this file>``, so a job can never read a file the
    DAG was not built from. The name is the content's hash: rewriting it for the same configuration
    changes nothing on disk (no mtime or hash churn), and a SLURM job, which re-resolves the same
    arguments, finds the very file its submitter wrote.
    """
    text = yaml.safe_dump(params, sort_keys=True)
    path = Path(directory) / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    if not path.exists():
        write_text(path, text)
    return path
