# pdf-fusion pipeline: download -> splits -> glove -> features -> encode -> train -> evaluate -> aggregate.
# Settings: params.yaml, overlaid by any --configfile and --config, validated before any job runs.
# Every job reads exactly that resolved configuration (PARAMS_FILE). Rules: workflow/rules/*.smk.
import re

from snakemake.exceptions import WorkflowError

from pdf_core.config import ParamsError, resolve_workflow_config, write_resolved


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


try:
    resolve_workflow_config(config, workflow)
except ParamsError as exc:
    raise WorkflowError(str(exc)) from None
# Rules pass it as `--params {PARAMS_FILE}`; a global, not a rule param, so that its name (a hash of
# the whole configuration) never counts as a changed param of jobs whose own settings did not change.
PARAMS_FILE = str(write_resolved(config))


include: "workflow/rules/common.smk"


# Timestamps mean nothing after a DVC restore: a job reruns when an output or its settings stamp is
# missing (pdf_core/stamps.py; every rule names its `stamp` input), never on an mtime.
inputflags:
    ancient,


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),
    model="|".join(MODELS),
    seed=r"\d+",
    trial=r"\d+",
    noise_type="|".join(GRID["noise_types"]),


# The target rules ask for the stamps too: Snakemake sees a missing stamp only when a requested file is
# missing (a missing intermediate file alone reruns nothing).
rule all:
    input:
        RESULTS,
        stamps_of(*STAGES),


# Coarse targets for `dvc repro` stages (dvc.yaml) and for running part of the grid by hand.
rule prepare_all:
    input:
        [paths.classes_file(ds) for ds in DATASETS],
        [paths.frozen_clean(ds, s) for ds in DATASETS for s in paths.SPLITS],
        [paths.frozen_noisy(ds, *c) for ds in DATASETS for c in conditions(GRID, noisy_only=True)],
        ALL_TRAIN_NOISY,
        stamps_of(*DATA_STAGES),


rule tune_all:
    input:
        ALL_TUNED,
        stamps_of(*DATA_STAGES, "tune"),


rule evaluate_all:
    input:
        ALL_EVALS,
        stamps_of(*DATA_STAGES, "tune", "train", "evaluate"),


include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/stamps.smk"
