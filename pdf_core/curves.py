"""A run's training curves in DVCLive's format, so that ``dvc plots show`` / ``dvc plots diff`` draw them.

One tsv per metric, one row per epoch: ``<dir>/metrics/train/loss.tsv`` with the columns ``step`` (the
epoch) and ``loss``, exactly as ``dvclive.Live.log_metric`` writes it, because it is DVCLive's own
writer (``dvclive.plots.Metric``) that writes it. ``dvclive.Live`` itself is not used: on start it opens
the DVC repository around the working directory (and runs ``dvc init`` in a Git repository that has
none), and it may post to DVC Studio and signal VS Code, none of which a pipeline job may do.

The rows are the trainer's history, which ``last.pt`` carries: a resumed run writes the same bytes. The
directory is written whole at the end of the run (:func:`pdf_core.io_utils.atomic_dir`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from pdf_core.io_utils import atomic_dir

# metric name -> what it is; "dev/weight_*" only for models that output fusion weights
METRICS = {
    "train/loss": "mean training loss of the epoch",
    "dev/acc": "dev accuracy after the epoch",
    "lr": "learning rate after the epoch's scheduler steps",
    "dev/weight_txt": "mean text fusion weight over the dev set",
    "dev/weight_img": "mean image fusion weight over the dev set",
}
METRICS_SUBFOLDER = "metrics"  # = dvclive.plots.Metric.subfolder (tests/test_curves.py)
STEP = "epoch"  # the key of a history row that DVCLive's files call `step`


def write_curves(directory: str | os.PathLike, history: Sequence[dict]) -> None:
    """Write one tsv per metric from ``history`` (one dict per epoch: ``epoch`` and metric values)."""
    # imported here: DVCLive loads DVC (0.4 s), which only the end of a training run needs, not the
    # evaluate jobs that import the trainer, nor the GPU benchmark (whose machine has no DVCLive)
    from dvclive.plots import Metric

    with atomic_dir(directory) as tmp:
        writers: dict = {}
        for row in history:
            unknown = set(row) - set(METRICS) - {STEP}
            if unknown:
                raise ValueError(f"training curves: unknown metric(s) {sorted(unknown)}; known: {list(METRICS)}")
            for name, value in row.items():
                if name == STEP:
                    continue
                metric = writers.setdefault(name, Metric(name, tmp))
                metric.step = row[STEP]
                metric.dump(value)


def read_curves(directory: str | os.PathLike) -> list[dict]:
    """The history :func:`write_curves` wrote: one dict per epoch, in epoch order, values as floats."""
    rows: dict[int, dict] = {}
    metrics_dir = Path(directory) / METRICS_SUBFOLDER
    for path in sorted(metrics_dir.rglob("*.tsv")):
        name = path.relative_to(metrics_dir).with_suffix("").as_posix()
        with open(path, encoding="utf-8", newline="") as fh:
            for record in csv.DictReader(fh, delimiter="\t"):
                step = int(record["step"])
                rows.setdefault(step, {STEP: step})[name] = float(record[Path(name).name])
    return [rows[step] for step in sorted(rows)]
