"""``python -m pdf_core show-config``: the fully resolved settings of each run, as JSON or markdown.

The settings are :func:`pdf_core.settings.model_hparams` of each dataset x model, exactly what the
train and evaluate jobs read; for a method tuned on dev (``tune.models``) whose tune stage has run, with
the values it chose (``runs/<dataset>/tune/<model>/selected.json``), as :func:`pdf_core.settings.run_settings`
overlays them. The markdown form is one table per dataset: a row per setting, a column
per model, and the layers (pdf_core/settings.py, resolution order) that set the row's values above
the ``train`` block; ``docs/recipes.md`` is this table for ``configs/paper.yaml``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pdf_core import paths, tune
from pdf_core.models import model_names
from pdf_core.settings import model_hparams, setting_layers, settings_class


def _selected(params: dict, dataset: str, model: str) -> bool:
    return tune.tuned(params, model) and paths.tune_selected(dataset, model).exists()


def resolved_runs(params: dict, datasets: list[str], models: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """{dataset: {model: settings}} of the given runs, with the values chosen on dev where chosen already."""
    return {
        ds: {
            m: model_hparams(params, m, ds)
            | (tune.selected_settings(params, ds, m) if _selected(params, ds, m) else {})
            for m in models
        }
        for ds in datasets
    }


def _cell(value: Any) -> str:
    return (value if isinstance(value, str) else json.dumps(value)).replace("|", "\\|")


def _set_by(params: dict, dataset: str, models: list[str], key: str) -> str:
    """Layers above ``train`` that set ``key`` for any of ``models`` on ``dataset``, in resolution order, then
    the selection on dev for a method whose tune grid names it (``tune (not selected yet)`` before it ran)."""
    names: list[str] = []
    for model in models:
        for name, values in setting_layers(params, model, dataset)[1:]:
            if key in values and name.startswith(("models.", "datasets.", "parity")) and name not in names:
                names.append(name)
    for model in models:
        if tune.tuned(params, model) and key in tune.model_grid(params, model):
            name = "tune" if _selected(params, dataset, model) else "tune (not selected yet)"
            if name not in names:
                names.append(name)
    return ", ".join(names)


def markdown(params: dict, datasets: list[str], models: list[str]) -> str:
    """One table per dataset: a row per setting (`train` keys, then the models' own), a column per model."""
    runs = resolved_runs(params, datasets, models)
    out = []
    for ds in datasets:
        keys: list[str] = []  # in the typed settings' field order, whatever order the file had
        for model in models:
            keys += [f.name for f in dataclasses.fields(settings_class(model)) if f.name not in keys]
        keys = [k for k in keys if any(k in runs[ds][m] for m in models)]
        out.append(f"### {ds}\n")
        out.append("| setting | " + " | ".join(models) + " | set by (above `train`) |")
        out.append("|---" * (len(models) + 2) + "|")
        for key in keys:
            cells = [_cell(runs[ds][m][key]) if key in runs[ds][m] else "" for m in models]
            out.append(f"| `{key}` | " + " | ".join(cells) + f" | {_set_by(params, ds, models, key)} |")
        out.append("")
    return "\n".join(out)


def show_config(params: dict, dataset: str | None, model: str | None, md: bool) -> str:
    """The text ``show-config`` prints: every run of the grid, or those of ``dataset`` / ``model``."""
    for name, kind, known in (
        (dataset, "dataset", params["datasets"]),
        (model, "model", model_names()),
    ):
        if name is not None and name not in known:
            raise ValueError(f"--{kind} {name!r} is not defined; known: {', '.join(sorted(known))}")
    datasets = [dataset] if dataset else list(params["grid"]["datasets"])
    models = [model] if model else list(params["grid"]["models"])
    if md:
        return markdown(params, datasets, models)
    return json.dumps(resolved_runs(params, datasets, models), indent=2)


def add_arguments(parser) -> None:
    parser.add_argument("--dataset", help="only this dataset (default: grid.datasets)")
    parser.add_argument("--model", help="only this model (default: grid.models)")
    parser.add_argument("--md", action="store_true", help="markdown: a table per dataset, a column per model")


def run(params: dict, args) -> None:
    print(show_config(params, args.dataset, args.model, args.md))
