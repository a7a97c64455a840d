"""Settings stamps: how the pipeline decides what reruns, from what is on disk alone.

After ``dvc checkout``, ``dvc pull`` or in a ``dvc exp run --queue`` workspace, outputs come back with
arbitrary mtimes and no (or another commit's) ``.snakemake/`` metadata, so the workflow trusts neither:
every input is ``ancient`` (Snakefile) and Snakemake's metadata triggers are off (``profiles/default``).
Instead every rule takes the stamp of its stage as an input, written in the rule itself::

    <stamp dir>/.settings/<owner>.<stage>.<key>.json      (owner: dataset, dataset.model, or all)

``key`` hashes what the stage reads from the configuration (its module's ``reads``), the package files it
runs (:mod:`pdf_core.codedeps`) and its upstream stages' keys. A changed setting or module gives a new
key: that stamp is missing, its job (rule ``stamp``, workflow/rules/stamps.smk) deletes the stage's stale
outputs (its module's ``outputs``) and writes the stamp, and the stage's jobs rerun. Upstream keys are
part of a key so that a run interrupted between two stages cannot leave downstream outputs that look
current. Stamps live inside the DVC outputs (the stage module's ``STAMP_DIR``), so they travel with them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from pdf_core.codedeps import PACKAGE_DIR, model_files, stage_files
from pdf_core.stages import RAW_DATA_STAGES, STAGES, raw_data_stage, stage_module

PROJECT_ROOT = PACKAGE_DIR.parent


@functools.cache
def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def owner_name(dataset: str | None, model: str | None) -> str:
    return "all" if dataset is None else dataset if model is None else f"{dataset}.{model}"


class Stamps:
    """The settings stamps of one resolved configuration."""

    def __init__(self, params: dict):
        self.params = params
        self._keys: dict[tuple, str] = {}
        self._every: dict[str, tuple] | None = None

    def _owner(self, stage: str, dataset: str | None, model: str | None) -> tuple[str | None, str | None]:
        """(dataset, model) as the stage's scope has them: a dataset stage ignores the model."""
        scope = stage_module(stage).SCOPE
        return (None, None) if scope == "grid" else (dataset, model if scope == "model" else None)

    def has_stamp(self, stage: str, model: str | None = None) -> bool:
        """Every stage has one, but a stage that `applies` to some models only (tune: the tuned ones)."""
        applies = getattr(stage_module(stage), "applies", None)
        return applies is None or applies(self.params, model)

    def upstream(self, stage: str, dataset: str | None = None, model: str | None = None) -> list[tuple]:
        """(stage, dataset, model) of every stamp this stage's key depends on."""
        grid = self.params["grid"]
        owners = [(ds, m) for ds in grid["datasets"] for m in grid["models"]] if dataset is None else [(dataset, model)]
        found = []
        for up in stage_module(stage).UPSTREAM:
            for ds, m in owners:
                name = raw_data_stage(self.params, ds) if up == "raw_data" else up
                item = (name, *self._owner(name, ds, m))
                if self.has_stamp(name, m) and item not in found:
                    found.append(item)
        return found

    def code(self, stage: str, model: str | None = None) -> dict[str, str]:
        files = stage_files(stage) + (model_files(model) if model is not None else ())
        return {str(f.relative_to(PROJECT_ROOT)): _file_digest(f) for f in sorted(set(files))}

    def content(self, stage: str, dataset: str | None = None, model: str | None = None) -> dict:
        """What a stage's key hashes and its stamp file holds."""
        dataset, model = self._owner(stage, dataset, model)
        return {
            "stage": stage,
            "reads": stage_module(stage).reads(self.params, dataset, model),
            "code": self.code(stage, model),
            "upstream": {"/".join(filter(None, up)): self.key(*up) for up in self.upstream(stage, dataset, model)},
        }

    def key(self, stage: str, dataset: str | None = None, model: str | None = None) -> str:
        owner = (stage, *self._owner(stage, dataset, model))
        if owner not in self._keys:  # the DAG asks for each key many times
            blob = json.dumps(self.content(*owner), sort_keys=True, default=str)
            self._keys[owner] = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return self._keys[owner]

    def path(self, stage: str, dataset: str | None = None, model: str | None = None) -> str:
        dataset, model = self._owner(stage, dataset, model)
        key = self.key(stage, dataset, model)
        return f"{stage_module(stage).STAMP_DIR}/.settings/{owner_name(dataset, model)}.{stage}.{key}.json"

    def stale(self, stage: str, dataset: str | None = None, model: str | None = None) -> list[str]:
        """What a new stamp of this stage invalidates."""
        return [str(p) for p in stage_module(stage).outputs(self.params, *self._owner(stage, dataset, model))]

    def every(self) -> dict[str, tuple]:
        """Every stamp of the configuration: path -> (stage, dataset, model), in pipeline order."""
        if self._every is not None:
            return self._every
        grid, found = self.params["grid"], {}
        for stage in STAGES:
            scope = stage_module(stage).SCOPE
            for ds in grid["datasets"] if scope != "grid" else [None]:
                if stage in RAW_DATA_STAGES and stage != raw_data_stage(self.params, ds):
                    continue
                for m in grid["models"] if scope == "model" else [None]:
                    if self.has_stamp(stage, m):
                        found[self.path(stage, ds, m)] = (stage, ds, m)
        self._every = found
        return found
