"""Per-rule time of a finished pipeline run, from Snakemake's `benchmark:` files.

    python bench/rule_times.py [PROJECT_DIR]

Sums wall seconds (`s`) and CPU seconds (`cpu_time`) over each rule's jobs under
`PROJECT_DIR/benchmarks/` (train and evaluate split into MMBT and the rest: MMBT runs a transformer
inside the model and dominates them on a CPU). README "Performance" quotes its output.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd


def rule_times(project: Path) -> dict[str, list[float]]:
    """rule -> [jobs, wall seconds, CPU seconds]."""
    root = project / "benchmarks"
    if not root.is_dir():
        raise SystemExit(f"{root}: no benchmarks folder; run the pipeline first (make run)")
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0].removesuffix(".tsv")
        if rule in ("train", "evaluate"):
            rule += "/mmbt" if "mmbt" in path.relative_to(root).with_suffix("").parts else "/other"
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
