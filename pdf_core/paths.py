"""Where each stage reads and writes, relative to the working directory. Snakemake and the CLI share these."""
from __future__ import annotations

from pathlib import Path

from pdf_core.evaluate import level_name


def splits_dir(dataset: str) -> Path:
    return Path("data/splits") / dataset


def glove_dir(dataset: str) -> Path:
    return Path("data/glove") / dataset


def features_dir(dataset: str) -> Path:
    return Path("data/features") / dataset


def frozen_clean(dataset: str, split: str) -> Path:
    return features_dir(dataset) / "frozen" / f"{split}.npz"


def frozen_noisy(dataset: str, noise_type: str, level: float, eval_seed: int) -> Path:
    return features_dir(dataset) / "frozen" / "test" / f"{noise_type}_{level_name(level)}_e{eval_seed}.npz"


def run_dir(dataset: str, model: str, seed: int) -> Path:
    return Path("runs") / dataset / model / f"seed{seed}"
