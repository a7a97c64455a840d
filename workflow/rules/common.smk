# Shared definitions for the workflow files: the grid, the settings stamps, and input functions built on
# pdf_core.paths. (Snakemake's linter wants functions kept apart from the rule definitions.)
from pdf_core import paths
from pdf_core.config import dataset_config
from pdf_core.grid import all_eval_files, conditions, model_eval_files
from pdf_core.models import encoder_inside, model_names
from pdf_core.noise_types import NOISE_TYPE_NAMES
from pdf_core.settings import model_hparams
from pdf_core.stages import STAGES, raw_data_stage, stage_module
from pdf_core.stamps import Stamps
from pdf_core.train_noise import train_conditions
from pdf_core.tune import all_trial_metrics, trial_files as tune_trial_files, tuned

GRID = config["grid"]
DATASETS = GRID["datasets"]
MODELS = model_names()
STAMPS = Stamps(config)
DATA_STAGES = [s for s in STAGES if stage_module(s).SCOPE == "dataset"]


def ds_cfg(wildcards):
    return dataset_config(config, wildcards.dataset)


def stamp(stage):
    """A rule's `stamp` input: its stage's settings stamp for the job's dataset (and model); see pdf_core/stamps.py."""
    return lambda w: STAMPS.path(stage, w.get("dataset"), w.get("model"))


def raw_data_stamp(w):
    return STAMPS.path(raw_data_stage(config, w.dataset), w.dataset)


def stamps_of(*stages):
    """Every stamp of these stages, for the target rules."""
    return [path for path, (stage, _, _) in STAMPS.every().items() if stage in stages]


ALL_TUNED = [paths.tune_selected(ds, m) for ds in DATASETS for m in GRID["models"] if tuned(config, m)]
ALL_EVALS = all_eval_files(GRID)
# GloVe text files by source path -> their name under encoders.glove (the packaged ones need no file)
GLOVE_FILES = {
    spec["source"]: name
    for name, spec in config["encoders"]["glove"].items()
    if not spec["source"].startswith("package:")
}
RESULT = paths.result_files()
RESULTS = list(RESULT.values())


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


def train_noisy_caches(dataset, model):
    """Frozen mode under train-time corruption: the train split's cache per (type, level) (encode_train_noisy)."""
    hp = model_hparams(config, model, dataset)
    if hp["mode"] != "frozen":
        return []
    return [paths.frozen_train_noisy(dataset, t, level) for t, level in train_conditions(hp["noise"])]


# every one the grid's runs need (prepare_all builds them with the other frozen caches)
ALL_TRAIN_NOISY = sorted({str(f) for ds in DATASETS for m in GRID["models"] for f in train_noisy_caches(ds, m)})


def tune_trial_inputs(w):
    """Frozen mode trains on the encoder caches; finetune mode on the image store and token ids."""
    if frozen_mode(w):
        data = [paths.frozen_clean(w.dataset, s) for s in ("train", "dev")]
        data += train_noisy_caches(w.dataset, w.model)
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
