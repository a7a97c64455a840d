# pdf-fusion pipeline: download -> splits -> glove -> features -> encode -> train -> evaluate -> aggregate.
# Settings: params.yaml, overlaid by any --configfile and --config, validated before any job runs.
# Every job reads exactly that resolved configuration (PARAMS_FILE). Rules: workflow/rules/*.smk.
import re

from snakemake.exceptions import WorkflowError

from snakemake.utils import update_config

from pdf_core.config import ParamsError, typed_overrides, validate_params, write_resolved


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


update_config(config, typed_overrides(dict(workflow.config_settings.config)))
CONFIG_SOURCE = " + ".join(
    ["params.yaml"]
    + [str(f) for f in workflow.overwrite_configfiles]
    + ["--config"] * bool(workflow.config_settings.config)
)
try:
    validate_params(config, source=CONFIG_SOURCE)
except ParamsError as exc:
    raise WorkflowError(str(exc)) from None
# Rules pass it as `--params {PARAMS_FILE}`; a global, not a rule param, so that its name (a hash of
# the whole configuration) never counts as a changed param of jobs whose own settings did not change.
PARAMS_FILE = str(write_resolved(config))


include: "workflow/rules/common.smk"


# Timestamps mean nothing after a DVC restore: jobs rerun on missing outputs and settings stamps only
# (workflow/rules/settings.smk, included last; the metadata triggers are off in profiles/default).
inputflags:
    ancient,


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),
    model="|".join(MODELS),
    seed=r"\d+",
    trial=r"\d+",
    noise_type="|".join(GRID["noise_types"]),


rule all:
    input:
        RESULTS,
        lambda w: settings_targets(*SETTINGS_FAMILIES),


# Coarse targets for `dvc repro` stages (dvc.yaml) and for running part of the grid by hand.
rule prepare_all:
    input:
        [paths.classes_file(ds) for ds in DATASETS],
        [paths.frozen_clean(ds, s) for ds in DATASETS for s in paths.SPLITS],
        [paths.frozen_noisy(ds, *c) for ds in DATASETS for c in conditions(GRID, noisy_only=True)],
        lambda w: settings_targets(*DATA_FAMILIES),


rule tune_all:
    input:
        ALL_TUNED,
        lambda w: settings_targets(*DATA_FAMILIES, "tune"),


rule evaluate_all:
    input:
        ALL_EVALS,
        lambda w: settings_targets(*DATA_FAMILIES, *MODEL_FAMILIES),


include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/settings.smk"
