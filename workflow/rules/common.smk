# Shared definitions for the workflow files: the grid, and input functions built on pdf_core.paths.
# (Snakemake's linter wants functions kept apart from the rule definitions.)
from pdf_core import paths
from pdf_core.codedeps import model_files, stage_files
from pdf_core.config import dataset_config
from pdf_core.grid import conditions
from pdf_core.models import encoder_inside, model_names
from pdf_core.settings import model_hparams
from pdf_core.tune import all_trial_metrics, trial_files as tune_trial_files, trials as tune_trials, tuned

GRID = config["grid"]
DATASETS = GRID["datasets"]
MODELS = model_names()


def code(stage, model=None):
    """Package files `python -m pdf_core <stage>` runs (and the model's module), derived from imports
    (pdf_core.codedeps): their content is part of the family's settings key (settings.smk), so that
    editing one reruns exactly the jobs that run it."""
    files = stage_files(stage) + (model_files(model) if model else ())
    return sorted({str(f) for f in files})


def ds_cfg(wildcards):
    return dataset_config(config, wildcards.dataset)


def model_eval_files(dataset, model):
    """The evaluation JSONs of every seed of one dataset x model (one `evaluate` job)."""
    runs = [paths.run_dir(dataset, model, seed) for seed in GRID["seeds"]]
    return [paths.eval_file(run, *c) for run in runs for c in conditions(GRID)]


ALL_TUNED = [paths.tune_selected(ds, m) for ds in DATASETS for m in GRID["models"] if tuned(config, m)]
ALL_EVALS = [f for ds in DATASETS for m in GRID["models"] for f in model_eval_files(ds, m)]
# GloVe text files by source path -> their name under encoders.glove (the packaged ones need no file)
GLOVE_FILES = {
    spec["source"]: name
    for name, spec in config["encoders"]["glove"].items()
    if not spec["source"].startswith("package:")
}
RESULT = paths.result_files()
RESULTS = list(RESULT.values())


# Rule families (settings.smk): per dataset, per dataset x model, and the aggregate (one for all).
DATA_FAMILIES = ("raw_data", "splits", "glove", "features", "encode")
MODEL_FAMILIES = ("tune", "train", "evaluate")


def raw_data_stage(dataset):
    """The CLI stage that puts a dataset's raw data in place."""
    return "generate" if config["datasets"][dataset]["kind"] == "synthetic" else "download"


def family_settings(family, dataset=None, model=None):
    """The configuration the jobs of one rule family read: their `params:`, and part of their settings
    stamp (settings.smk); their data inputs are covered by the upstream families' stamps."""
    if family == "aggregate":
        return {"significance": config["significance"], "evals": [str(f) for f in ALL_EVALS]}
    if family == "tune":  # only methods tuned on dev have tune jobs and stamps (settings.smk)
        return {
            "hparams": model_hparams(config, model, dataset),
            "seeds": config["tune"]["seeds"],
            "trials": tune_trials(config, model),
        }
    if family == "train":
        return {"hparams": model_hparams(config, model, dataset)}
    if family == "evaluate":
        return {"hparams": model_hparams(config, model, dataset), "noise": config["noise"]}
    ds = dataset_config(config, dataset)
    if family == "raw_data":
        return {k: ds.get(k) for k in ("kind", "raw_dir", "generate", "download")}
    if family == "splits":
        return {k: ds[k] for k in ("kind", "raw_dir", "split")}
    if family == "glove":
        return ds["glove_spec"]
    if family == "features":
        return {
            "text_encoder": ds["text_encoder_spec"],
            "image_size": config["features"]["image_size"],
            "image_policy": config["features"]["image_policy"],
        }
    if family == "encode":
        return {
            "encoders": [ds[k] for k in ("text_encoder_spec", "image_encoder_spec", "glove_spec")],
            "features": config["features"],
            "noise": config["noise"],
        }
    raise ValueError(f"no settings family {family!r}")


def frozen_mode(wildcards):
    return model_hparams(config, wildcards.model, wildcards.dataset)["mode"] == "frozen"


# Job order on a few cores: Snakemake starts the ready job of highest priority first. The frozen encoders
# gate every training and evaluation, an evaluation gates the tables, and a model running BERT inside
# trains for minutes where the others take seconds: started late, any of them runs alone at the end of
# the run while the other cores idle (longest jobs first).
ENCODE_PRIORITY, EVALUATE_PRIORITY = 3, 2


def train_priority(w):
    """Training and tuning trials: a model with BERT inside before the others."""
    return 1 if encoder_inside(w.model) else 0


def chosen_settings(w):
    """A method tuned on dev runs with the values its tune stage chose."""
    return [paths.tune_selected(w.dataset, w.model)] if tuned(config, w.model) else []


def tune_trial_inputs(w):
    """Frozen mode trains on the encoder caches; finetune mode on the image store and token ids."""
    if frozen_mode(w):
        data = [paths.frozen_clean(w.dataset, s) for s in ("train", "dev")]
    else:
        data = paths.feature_files(w.dataset, ("train", "dev"))
    return data + [paths.glove_files(w.dataset)["vectors"], paths.classes_file(w.dataset)]


def train_inputs(w):
    """What a trial reads, and the values chosen on dev."""
    return tune_trial_inputs(w) + chosen_settings(w)


def evaluate_inputs(w):
    """Every seed's checkpoint, the test set under every condition, and the train split (it sizes the model)."""
    if frozen_mode(w):
        data = [paths.frozen_clean(w.dataset, s) for s in ("train", "test")]
        data += [paths.frozen_noisy(w.dataset, *c) for c in conditions(GRID, noisy_only=True)]
    else:
        data = paths.feature_files(w.dataset, ("train", "test")) + [paths.glove_files(w.dataset)["vectors"]]
    checkpoints = [paths.run_dir(w.dataset, w.model, seed) / "model.pt" for seed in GRID["seeds"]]
    return checkpoints + data + chosen_settings(w)
