"""The trimmed console of `make run` (workflow/scripts/console.py) on real Snakemake output lines."""

import importlib.util

from tests.conftest import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("console", PROJECT_ROOT / "workflow/scripts/console.py")
console = importlib.util.module_from_spec(spec)
spec.loader.exec_module(console)

SNAKEMAKE_OUTPUT = """\
Building DAG of jobs...
Job stats:
job          count
---------  -------
settings         1
aggregate        1
all              1
total            3

Select jobs to execute...
[Fri Nov 27 14:40:03 2026]
localrule settings:
    output: results/.settings/all.aggregate.5871113c3005eb3f.json
    jobid: 2
    reason: Missing output files: results/.settings/all.aggregate.5871113c3005eb3f.json
    wildcards: stamp_dir=results, owner=all, family=aggregate, key=5871113c3005eb3f
[Fri Nov 27 14:40:03 2026]
Finished jobid: 2 (Rule: settings)
1 of 3 steps (33%) done
[Fri Nov 27 14:40:04 2026]
rule aggregate:
    input: runs/synthetic/qmf/seed1/eval/gaussian_0_e1.json, runs/synthetic/qmf/seed1/eval/gaussian_10_e1.json
    output: results/summary.csv
    jobid: 1
    reason: Input files updated by another job: results/.settings/all.aggregate.5871113c3005eb3f.json
[Fri Nov 27 14:40:07 2026]
Error in rule aggregate:
    message: None
    jobid: 1
    log: logs/aggregate.log (check log file(s) for error details)

Shutting down, this might take some time.
Complete log(s): /work/.snakemake/log/2026-11-27T144003.snakemake.log
"""


def test_one_line_per_finished_job_and_errors_in_full():
    shown = list(console.trim(SNAKEMAKE_OUTPUT.splitlines(keepends=True)))
    assert shown[:2] == ["Job stats:", "job          count"] and "total            3" in shown
    assert "1 of 3 steps (33%) done: settings stamp all aggregate" in shown
    assert not any("input:" in line or "reason:" in line for line in shown[: shown.index("Error in rule aggregate:")])
    error = shown.index("Error in rule aggregate:")
    assert shown[error + 3] == "    log: logs/aggregate.log (check log file(s) for error details)"
    assert shown[-2:] == [
        "Shutting down, this might take some time.",
        "Complete log(s): /work/.snakemake/log/2026-11-27T144003.snakemake.log",
    ]
    assert (
        console.describe("train", "dataset=synthetic, model=qmf, seed=1")
        == "train (dataset=synthetic, model=qmf, seed=1)"
    )
