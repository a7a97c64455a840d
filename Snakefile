# pdf-fusion pipeline: download -> splits -> glove -> features -> encode -> train -> evaluate -> aggregate.
# All settings come from params.yaml (validated before any job runs). Rules: workflow/rules/*.smk.
from pathlib import Path

from snakemake.exceptions import WorkflowError

from pdf_core.config import ParamsError, validate_params

configfile: "params.yaml"


report: "workflow/report/workflow.rst"

try:
    validate_params(config, source=workflow.configfiles[-1] if workflow.configfiles else "params.yaml")
except ParamsError as exc:
    raise WorkflowError(str(exc)) from None

include: "workflow/rules/common.smk"

# Timestamps mean nothing after a DVC restore: jobs rerun on missing outputs and settings stamps only
# (workflow/rules/settings.smk, included last; the metadata triggers are off in profiles/default).
inputflags:
    ancient,


wildcard_constraints:
    dataset="[A-Za-z0-9_\-]+",
    model="[a-z]+",
    seed=r"\d+",
    split="train|dev|test",
    noise_type="gaussian|salt_pepper",


rule all:
    input:
        RESULTS,
        lambda w: settings_targets(*SETTINGS_FAMILIES),


# Coarse targets for `dvc repro` stages (dvc.yaml) and for running part of the grid by hand.
rule prepare_all:
    input:
        [f"data/features/{ds}/classes.json" for ds in DATASETS],
        [str(paths.frozen_clean(ds, s)) for ds in DATASETS for s in ("train", "dev", "test")],
        [str(paths.frozen_noisy(ds, t, lvl, e)) for ds in DATASETS for t in GRID["noise_types"]
         for lvl in noisy_levels() for e in GRID["eval_seeds"]],
        lambda w: settings_targets("data", "encode"),


rule evaluate_all:
    input:
        ALL_EVALS,
        lambda w: settings_targets("data", "encode", "train", "evaluate"),


include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/settings.smk"
