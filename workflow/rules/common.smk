# Shared definitions for the workflow files (paths, grid expansions, input functions).
# (Snakemake's linter wants functions kept apart from the rule definitions.)
from pathlib import Path

from pdf_core import paths
from pdf_core.config import dataset_config, model_hparams
from pdf_core.evaluate import eval_filename, level_name

# The CLI reads the same file the workflow was configured with (edit it, or pass --configfile).
PARAMS_FILE = str(Path(workflow.configfiles[-1]).resolve())
GRID = config["grid"]
DATASETS = GRID["datasets"]
CODE_DIR = Path(workflow.basedir) / "pdf_core"


def code(*modules):
    """Package modules a job runs, listed as its inputs so that editing them reruns it.

    Snakemake itself tracks only `script` files, not the modules they import.
    """
    return [str(CODE_DIR / m) for m in modules]


def ds_cfg(wildcards):
    return dataset_config(config, wildcards.dataset)


def noisy_levels():
    return [lvl for lvl in GRID["noise_levels"] if lvl > 0]


def eval_files(dataset, model, seed):
    return [str(paths.run_dir(dataset, model, seed) / "eval" / eval_filename(t, lvl, e))
            for t in GRID["noise_types"] for lvl in GRID["noise_levels"] for e in GRID["eval_seeds"]]


ALL_EVALS = [f for ds in DATASETS for m in GRID["models"] for s in GRID["seeds"] for f in eval_files(ds, m, s)]
RESULTS = ["results/summary.csv", "results/summary.md", "results/summary.html", "results/metrics.json",
           "results/accuracy_vs_noise.png"]

FEATURE_SPLIT_FILES = ["images.npy", "tokens.npz", "samples.jsonl"]


def train_inputs(w):
    """Frozen mode trains on the encoder caches; finetune mode on the image store and token ids."""
    if model_hparams(config, w.model)["mode"] == "frozen":
        data = [str(paths.frozen_clean(w.dataset, s)) for s in ("train", "dev")]
    else:
        data = [f"data/features/{w.dataset}/{s}/{f}" for s in ("train", "dev") for f in FEATURE_SPLIT_FILES]
    model_file = CODE_DIR / "models" / f"{w.model}.py"
    return data + [f"data/glove/{w.dataset}/vectors.npy", f"data/features/{w.dataset}/classes.json"] + code(
        "train.py", "inputs.py", "models/base.py", "models/__init__.py"
    ) + ([str(model_file)] if model_file.exists() else [])


def evaluate_inputs(w):
    hp = model_hparams(config, w.model)
    if hp["mode"] == "frozen":
        data = [str(paths.frozen_clean(w.dataset, "test"))] + [
            str(paths.frozen_noisy(w.dataset, t, lvl, e))
            for t in GRID["noise_types"] for lvl in noisy_levels() for e in GRID["eval_seeds"]
        ]
    else:
        data = [f"data/features/{w.dataset}/test/{f}" for f in FEATURE_SPLIT_FILES]
    return [f"runs/{w.dataset}/{w.model}/seed{w.seed}/model.pt"] + data + code("evaluate.py", "metrics.py")
