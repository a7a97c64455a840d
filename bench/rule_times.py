"""Per-rule time of a finished pipeline run, from Snakemake's `benchmark:` files.

    python bench/rule_times.py [PROJECT_DIR]

Sums wall seconds (`s`) and CPU seconds (`cpu_time`) over each rule's jobs under
`PROJECT_DIR/benchmarks/`; train and evaluate are split into each model that runs BERT inside
(`ENCODER_INSIDE` in its module: MMBT, which dominates them on a CPU) and the rest. bench/README.md
quotes its output.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

from pdf_core.models import encoder_inside


def rule_times(project: Path) -> dict[str, list[float]]:
    """rule -> [jobs, wall seconds, CPU seconds]."""
    root = project / "benchmarks"
    if not root.is_dir():
        raise SystemExit(f"{root}: no benchmarks folder; run the pipeline first (make run)")
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for path in sorted(root.rglob("*.tsv")):
        parts = path.relative_to(root).with_suffix("").parts
        rule = parts[0]
        if rule in ("train", "evaluate"):  # train/<dataset>/<model>/seed<k>, evaluate/<dataset>/<model>
            rule += f"/{parts[2]}" if encoder_inside(parts[2]) else "/other"
        row = pd.read_csv(path, sep="\t").iloc[0]
        totals[rule][0] += 1
        totals[rule][1] += float(row["s"])
        totals[rule][2] += float(row["cpu_time"])
    return dict(totals)


def main() -> None:
    project = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    totals = rule_times(project)
    for rule, (jobs, wall, cpu) in sorted(totals.items()):
        print(f"{rule:18s} {jobs:4.0f} jobs {wall:8.1f} s {cpu:8.1f} cpu-s")
    jobs, wall, cpu = (sum(values[i] for values in totals.values()) for i in range(3))
    print(f"{'total':18s} {jobs:4.0f} jobs {wall:8.1f} s {cpu:8.1f} cpu-s")


if __name__ == "__main__":
    main()
