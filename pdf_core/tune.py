"""Selection on dev: per dataset x method, a declared grid of settings, each trial trained on train and
scored on dev; the final runs use the best trial's values.

The ``tune`` block of params.yaml declares which methods are tuned (``models``), the tuning seeds
(``seeds``), the candidate values shared by every tuned method (``grid``) and per-method grids
(``model_grids.<model>``, whose keys replace or extend ``grid`` for that method). A trial is one point of
the cartesian product of the method's grid, keys in sorted order and values in declared order, so trial
``k`` names the same settings in the workflow and in every job. A trial's score is its best dev accuracy
(the epoch that dev selection keeps) averaged over the tuning seeds; the highest score wins, ties going to
the earlier trial. Only the train and dev splits are ever opened: a trial is :func:`pdf_core.train.train_run`
on those two, and the selection reads nothing but the trials' dev metrics.

``runs/<dataset>/tune/<model>/trial<k>/seed<s>/`` per trial and seed holds ``dev_metrics.json`` and the
trial's training curves (``curves/``, :mod:`pdf_core.curves`; beside the trial, not under ``dvclive/``, so
that ``dvc plots show`` draws the final runs only);
``runs/<dataset>/tune/<model>/selected.json`` holds the chosen values and every trial's scores.
:func:`pdf_core.settings.run_settings` overlays the chosen values for every stage that runs the method.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

from pdf_core import paths
from pdf_core.io_utils import read_json, write_json

log = logging.getLogger(__name__)


def tuned(params: dict, model: str) -> bool:
    return model in params["tune"]["models"]


def model_grid(params: dict, model: str) -> dict[str, list]:
    """The method's grid: ``tune.grid`` with ``tune.model_grids.<model>`` over it, keys sorted."""
    grid = {**params["tune"]["grid"], **(params["tune"]["model_grids"].get(model) or {})}
    return {key: list(grid[key]) for key in sorted(grid)}


def trials(params: dict, model: str) -> list[dict[str, Any]]:
    """Every point of the method's grid, in trial order (one point, no overrides, for an empty grid)."""
    grid = model_grid(params, model)
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def trial_files(dataset: str, model: str, trial: int | str, seed: int | str) -> dict[str, Path]:
    run = paths.tune_trial_dir(dataset, model, trial, seed)
    return {"dev_metrics": run / "dev_metrics.json", "curves": run / "curves"}


def all_trial_metrics(params: dict, dataset: str, model: str) -> list[Path]:
    """The dev metrics of every trial x tuning seed: what the selection reads."""
    return [
        trial_files(dataset, model, k, seed)["dev_metrics"]
        for k in range(len(trials(params, model)))
        for seed in params["tune"]["seeds"]
    ]


def select(params: dict, dataset: str, model: str) -> dict:
    """Score every trial on dev and write ``selected.json``; returns its content."""
    seeds = params["tune"]["seeds"]
    rows = []
    for k, overrides in enumerate(trials(params, model)):
        per_seed = [read_json(trial_files(dataset, model, k, s)["dev_metrics"]) for s in seeds]
        accs = [m["best_dev_acc"] for m in per_seed]
        rows.append(
            {
                "trial": k,
                "settings": overrides,
                "dev_acc_mean": sum(accs) / len(accs),
                "dev_acc": accs,
                "best_epoch": [m["best_epoch"] for m in per_seed],
            }
        )
    best = max(rows, key=lambda r: (r["dev_acc_mean"], -r["trial"]))  # ties: the earlier trial
    result = {
        "dataset": dataset,
        "model": model,
        "seeds": seeds,
        "selected_trial": best["trial"],
        "settings": best["settings"],
        "dev_acc_mean": best["dev_acc_mean"],
        "trials": rows,
    }
    write_json(paths.tune_selected(dataset, model), result)
    log.info(
        "%s on %s: trial %d of %d chosen on dev (%.4f): %s",
        model,
        dataset,
        best["trial"],
        len(rows),
        best["dev_acc_mean"],
        best["settings"],
    )
    return result


def selected_settings(params: dict, dataset: str, model: str) -> dict[str, Any]:
    """The values chosen on dev for a tuned method (empty for a method that is not tuned)."""
    if not tuned(params, model):
        return {}
    path = paths.tune_selected(dataset, model)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: {model} is tuned on dev (tune.models) but not selected yet; run "
            f"`snakemake tune_all` (or `python -m pdf_core tune --dataset {dataset} --model {model} --select` "
            "after its trials)"
        )
    chosen = read_json(path)
    expected = trials(params, model)
    if chosen["seeds"] != params["tune"]["seeds"] or [r["settings"] for r in chosen["trials"]] != expected:
        raise ValueError(f"{path}: made for another tune grid or seeds than the configuration's; rerun the tune stage")
    return chosen["settings"]
