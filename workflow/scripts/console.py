"""Snakemake's console output, trimmed for a person watching `make run`: one line per finished job.

Snakemake prints every job's block (inputs, outputs, reason: for the aggregate, hundreds of paths).
This filter keeps the job-count table, one line per finished job (its rule and wildcards), the
final summary and every error in full; the complete log is in .snakemake/log/ as always (Snakemake
writes it itself). Standard library only. Usage: snakemake ... 2>&1 | python console.py
"""

import re
import sys

JOB_HEADER = re.compile(r"^(local)?(rule|checkpoint) (\w+):$")
FIELD = re.compile(r"^    (\w+): (.*)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")
PROGRESS = re.compile(r"^(\d+ of \d+ steps \(\d+%\) done)$")
ALWAYS = (
    "Nothing to be done",
    "Complete log",
    "Job stats:",
    "Error",
    "Exception",
    "Traceback",
    "WorkflowError",
    "Shutting down",
    "Exiting because",
    "MissingOutput",
    "Waiting at most",
)


def describe(rule: str, wildcards: str) -> str:
    """`train (dataset=synthetic, model=qmf, seed=1)`; a settings stamp by what it stamps."""
    values = dict(item.split("=", 1) for item in wildcards.split(", ") if "=" in item)
    if rule == "settings" and "owner" in values:
        return f"settings stamp {values['owner']} {values['family']}"
    return f"{rule} ({wildcards})" if wildcards else rule


def trim(lines):
    """Yield the lines worth showing."""
    wildcards: dict[str, str] = {}  # jobid -> "k=v, ..." of jobs seen starting
    current: dict[str, str] | None = None  # the job block being read
    finished = None
    in_stats = in_error = False
    for raw in lines:
        line = raw.rstrip("\n")
        if in_error:  # an error block: shown in full, up to the blank line that ends it
            yield line
            in_error = bool(line.strip())
            continue
        if in_stats:
            yield line
            in_stats = not line.startswith("total")
            continue
        if JOB_HEADER.match(line):
            current = {}
            continue
        field = FIELD.match(line)
        if current is not None and field:
            current[field.group(1)] = field.group(2)
            if "jobid" in current:
                wildcards[current["jobid"]] = current.get("wildcards", "")
            continue
        current = None
        if m := FINISHED.match(line):
            finished = (m.group(2), wildcards.get(m.group(1), ""))
        elif (m := PROGRESS.match(line)) and finished:
            yield f"{m.group(1)}: {describe(*finished)}"
            finished = None
        elif line.startswith("Error in rule") or line.startswith("Traceback"):
            in_error = True
            yield line
        elif line.startswith("Job stats:"):
            in_stats = True
            yield line
        elif any(word in line for word in ALWAYS):
            yield line


def main() -> None:
    for line in trim(sys.stdin):
        print(line, flush=True)


if __name__ == "__main__":
    main()
