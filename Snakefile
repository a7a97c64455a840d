# pdf-fusion pipeline: download -> splits -> glove -> features -> encode -> train -> evaluate -> aggregate.
# All settings come from params.yaml (validated before any job runs). Rules: workflow/rules/*.smk.
from pathlib import Path

from snakemake.exceptions import WorkflowError

from pdf_core import paths
from pdf_core.config import ParamsError, dataset_config, model_hparams, validate_params
from pdf_core.evaluate import eval_filename, level_name

configfile: "params.yaml"


report: "workflow/report/workflow.rst"

try:
    validate_params(config, source=workflow.configfiles[-1] if workflow.configfiles else "params.yaml")
except ParamsError as exc:
    raise WorkflowError(str(exc)) from None

# The CLI reads the same file the workflow was configured with (edit it, or pass --configfile).
PARAMS_FILE = str(Path(workflow.configfiles[-1]).resolve())
GRID = config["grid"]
DATASETS = GRID["datasets"]
CODE_DIR = Path(workflow.basedir) / "pdf_core"


def code(*modules):
    """Package modules a rule runs, as inputs: editing them reruns the rule (Snakemake tracks only script: files)."""
    return [str(CODE_DIR / m) for m in modules]


def ds_cfg(wildcards):
    return dataset_config(config, wildcards.dataset)


def noisy_levels():
    return [lvl for lvl in GRID["noise_levels"] if lvl > 0]


def eval_files(dataset, model, seed):
    return [str(paths.run_dir(dataset, model, seed) / "eval" / eval_filename(t, lvl, e))
            for t in GRID["noise_types"] for lvl in GRID["noise_levels"] for e in GRID["eval_seeds"]]


ALL_EVALS = [f for ds in DATASETS for m in GRID["models"] for s in GRID["seeds"] for f in eval_files(ds, m, s)]
RESULTS = ["results/summary.csv", "results/summary.md", "results/metrics.json", "results/accuracy_vs_noise.png"]

wildcard_constraints:
    dataset="[A-Za-z0-9_\-]+",
    model="[a-z]+",
    seed=r"\d+",
    split="train|dev|test",
    noise_type="gaussian|salt_pepper",


rule all:
    input:
        RESULTS,


# Coarse targets for `dvc repro` stages (dvc.yaml) and for running part of the grid by hand.
rule prepare_all:
    input:
        [f"data/features/{ds}/classes.json" for ds in DATASETS],
        [str(paths.frozen_clean(ds, s)) for ds in DATASETS for s in ("train", "dev", "test")],
        [str(paths.frozen_noisy(ds, t, lvl, e)) for ds in DATASETS for t in GRID["noise_types"]
         for lvl in noisy_levels() for e in GRID["eval_seeds"]],


rule evaluate_all:
    input:
        ALL_EVALS,


include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
