"""The experiment grid expanded once: every noise condition a trained run is evaluated under.

Snakemake (outputs of `encode_noisy` and `evaluate`, the aggregate's inputs) and the CLI
(`evaluate`) both call :func:`conditions`, so the two can never disagree on what a run covers.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from pdf_core import paths


class Condition(NamedTuple):
    noise_type: str
    level: float
    eval_seed: int


def conditions(grid: dict, *, noisy_only: bool = False, noise_type: str | None = None) -> list[Condition]:
    """noise type x level x eval seed, in grid order.

    ``noisy_only`` drops level 0 (nothing is noised there: the clean test set is that condition);
    ``noise_type`` fixes the type instead of taking every type of the grid (a wildcard pattern
    such as ``"{noise_type}"`` is passed through as it is).
    """
    types = [noise_type] if noise_type is not None else grid["noise_types"]
    levels = [lvl for lvl in grid["noise_levels"] if lvl > 0 or not noisy_only]
    return [Condition(t, lvl, e) for t in types for lvl in levels for e in grid["eval_seeds"]]


def model_eval_files(grid: dict, dataset: str, model: str) -> list[Path]:
    """The evaluation JSONs of every seed of one dataset x model (one `evaluate` job)."""
    runs = [paths.run_dir(dataset, model, seed) for seed in grid["seeds"]]
    return [paths.eval_file(run, *c) for run in runs for c in conditions(grid)]


def all_eval_files(grid: dict) -> list[Path]:
    """Every evaluation JSON of the grid: what the aggregate reads."""
    return [f for ds in grid["datasets"] for m in grid["models"] for f in model_eval_files(grid, ds, m)]
