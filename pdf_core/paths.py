"""Where each stage reads and writes, relative to the working directory.

The Snakemake rules and the CLI both build their paths here. Every function also takes wildcard
patterns (``paths.run_dir("{dataset}", "{model}", "{seed}")``), so a rule's output pattern and
the file a job writes come from the same line. Kept free of heavy imports: the Snakefile loads it.
"""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "dev", "test")
# the uint8 image store, token ids and sample table of one split (pdf_core.features.store)
FEATURE_SPLIT_FILES = ("images.npy", "tokens.npz", "samples.jsonl")
RESULTS_DIR = Path("results")


def level_name(level: float | str) -> str:
    """File-name form of a noise level: 5 -> '5', 2.5 -> '2.5' (a wildcard pattern passes through)."""
    return level if isinstance(level, str) else f"{float(level):g}"


def condition_name(noise_type: str, level: float | str, eval_seed: int | str) -> str:
    return f"{noise_type}_{level_name(level)}_e{eval_seed}"


def raw_marker(dataset: str) -> Path:
    """Written when the raw data is in place; holds the dataset root."""
    return Path("data/raw") / f"{dataset}.ready"


def splits_dir(dataset: str) -> Path:
    return Path("data/splits") / dataset


def split_files(dataset: str) -> list[Path]:
    return [splits_dir(dataset) / f"{split}.jsonl" for split in SPLITS]


def glove_dir(dataset: str) -> Path:
    return Path("data/glove") / dataset


def glove_files(dataset: str) -> dict[str, Path]:
    """The GloVe subset of one dataset, by role (pdf_core.data.glove)."""
    return {
        role: glove_dir(dataset) / name
        for role, name in (("vectors", "vectors.npy"), ("vocab", "vocab.txt"), ("report", "report.json"))
    }


def features_dir(dataset: str) -> Path:
    return Path("data/features") / dataset


def feature_files(dataset: str, splits=SPLITS) -> list[Path]:
    return [features_dir(dataset) / split / name for split in splits for name in FEATURE_SPLIT_FILES]


def classes_file(dataset: str) -> Path:
    return features_dir(dataset) / "classes.json"


def data_report(dataset: str) -> Path:
    return features_dir(dataset) / "data_report.json"


def frozen_clean(dataset: str, split: str) -> Path:
    return features_dir(dataset) / "frozen" / f"{split}.npz"


def frozen_noisy_dir(dataset: str) -> Path:
    return features_dir(dataset) / "frozen" / "test"


def frozen_noisy(dataset: str, noise_type: str, level: float | str, eval_seed: int | str) -> Path:
    return frozen_noisy_dir(dataset) / f"{condition_name(noise_type, level, eval_seed)}.npz"


def frozen_train_noisy_dir(dataset: str) -> Path:
    return features_dir(dataset) / "frozen" / "train_noisy"


def frozen_train_noisy(dataset: str, noise_type: str, level: float | str) -> Path:
    """The train split under one test condition (type, level), seeded by the train-noise key (pdf_core.train_noise)."""
    return frozen_train_noisy_dir(dataset) / f"{noise_type}_{level_name(level)}.npz"


def model_dir(dataset: str, model: str) -> Path:
    """Every run (seed) of one model on one dataset."""
    return Path("runs") / dataset / model


def run_dir(dataset: str, model: str, seed: int | str) -> Path:
    return model_dir(dataset, model) / f"seed{seed}"


CURVES_ROOT = Path("dvclive")


def model_curves_dir(dataset: str, model: str) -> Path:
    """The training curves of every run (seed) of one model on one dataset."""
    return CURVES_ROOT / dataset / model


def curves_dir(dataset: str, model: str, seed: int | str) -> Path:
    """One run's training curves (pdf_core.curves). Outside ``runs/``: dvc.yaml's plots entry names one
    directory holding nothing but curve files (DVC plots take no globs, and ``runs/`` holds checkpoints)."""
    return model_curves_dir(dataset, model) / f"seed{seed}"


def tune_dir(dataset: str, model: str) -> Path:
    """The tune trials of one method (pdf_core.tune); beside, not inside, its runs (a retrain clears those)."""
    return Path("runs") / dataset / "tune" / model


def tune_trial_dir(dataset: str, model: str, trial: int | str, seed: int | str) -> Path:
    return tune_dir(dataset, model) / f"trial{trial}" / f"seed{seed}"


def tune_selected(dataset: str, model: str) -> Path:
    """The settings chosen on dev and every trial's score."""
    return tune_dir(dataset, model) / "selected.json"


def eval_dir(run: Path) -> Path:
    return Path(run) / "eval"


def eval_file(run: Path, noise_type: str, level: float | str, eval_seed: int | str) -> Path:
    return eval_dir(run) / f"{condition_name(noise_type, level, eval_seed)}.json"


def result_files(out_dir: str | Path = RESULTS_DIR) -> dict[str, Path]:
    """What the aggregate stage writes, by role."""
    names = {
        "csv": "summary.csv",
        "md": "summary.md",
        "html": "summary.html",
        "tex": "summary.tex",
        "table2": "table2.tex",
        "heads": "heads.md",
        "metrics": "metrics.json",
        "significance_csv": "significance.csv",
        "significance_md": "significance.md",
        "significance_html": "significance.html",
        "plot": "accuracy_vs_noise.png",
        "fusion_weights": "fusion_weights.png",
        "reliability": "reliability.png",
        "weight_auroc": "weight_auroc.png",
        "robustness_csv": "robustness.csv",
        "robustness_md": "robustness.md",
        "robustness_html": "robustness.html",
        "robustness_plot": "robustness.png",
    }
    return {role: Path(out_dir) / name for role, name in names.items()}
