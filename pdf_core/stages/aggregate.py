"""Stage ``aggregate``: every evaluation JSON of the grid -> paper-style tables, significance, DVC metrics
and figures in ``results/``."""

from __future__ import annotations

from pdf_core import paths

SCOPE = "grid"
STAMP_DIR = "results"
UPSTREAM = ("evaluate",)


def reads(params: dict, dataset: str | None = None, model: str | None = None) -> dict:
    from pdf_core.grid import all_eval_files

    # which runs the tables hold: a model dropped from the grid must leave them
    return {"significance": params["significance"], "evals": [str(f) for f in all_eval_files(params["grid"])]}


def outputs(params: dict, dataset: str | None = None, model: str | None = None) -> list:
    return list(paths.result_files().values())


def add_arguments(parser) -> None:
    pass


def run(params: dict, args) -> None:
    from pathlib import Path

    from pdf_core.aggregate import aggregate

    settings = reads(params)
    aggregate([Path(p) for p in settings["evals"]], paths.RESULTS_DIR, settings["significance"])
