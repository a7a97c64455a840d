"""Replay of the original evaluation's random draws (``noise.mode: paper``).

Source: QingyangZhang/QMF, first commit (8c16860): ``src/data/dataset.py`` (``JsonlDataset.__getitem__``,
``AddGaussianNoise``, ``AddSaltPepperNoise``), ``src/data/helpers.py`` (the test transforms and the
test ``DataLoader``), ``eval_df.py`` (``--n_workers`` 12) and ``shells/batch_eval_*.sh``
(``--batch_sz 16``); ``requirements.txt`` pins torch 1.10, whose DataLoader seeds each worker.

What the original did for one test sample, inside its DataLoader worker, at noise level e > 0:

1. text: ``flag = np.random.choice([0, 1], p=[.5, .5])``; if set, the text is split on single spaces
   and each piece is replaced by ``_`` where ``np.random.choice([0, 1], p=[1 - q, q])`` gives 1,
   ``q = 1/10 * e``; the pieces are joined with single spaces;
2. image, after ``Resize(256)`` (h x w): ``RandomApply(p=0.5)`` draws ``torch.rand(1)`` and applies
   the noise when ``0.5 >= draw``; Gaussian: ``np.random.seed(0)`` then h*w normals (so the numpy
   state after a noised image depends only on its size); salt & pepper: ``random.uniform(0, 1) < e/10``
   (Python's generator), then ``np.random.choice((0, 1, 2), size=(h, w, 1), p=[.05, .05, .9])``.

All numpy draws share the worker's *global* generator, so under Gaussian noise a text's flag is the
first choice after the previous noised image's normals (the coupling). Batch ``b`` goes to worker
``b % 12``, which handles its batches in order; torch 1.10 seeds worker ``w`` with
``random.seed(base + w)``, ``torch.manual_seed(base + w)`` and
``np.random.seed(_generate_state(base, w))``, ``base`` being one int64 drawn from the main process's
torch generator when the loader's iterator is made.

This module replays exactly that, sample by sample, with the recorded image sizes. The one thing
it cannot reproduce is ``base``: in the original it is the torch generator's next draw after
``set_seed(eval seed)`` and the construction of the model (BERT, ResNet-152, heads) in torch 1.10,
which depends on that model's code and torch version. Here it comes from the eval seed alone, the
same for every model, noise type and level (the original's too was the same for every type and
level of one model and eval seed).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np

from pdf_core.text import MASK_TOKEN

ORIGINAL_BATCH_SIZE = 16  # shells/batch_eval_*.sh: --batch_sz 16
ORIGINAL_WORKERS = 12  # eval_df.py: --n_workers default 12
SALT_PEPPER_CHOICE_P = (0.05, 0.05, 0.9)  # AddSaltPepperNoise(density=0.1): pepper, salt, keep
_BASE_SEED_TAG = 0x0B5E  # separates the replay's base seed from every other seed key


def base_seed(eval_seed: int) -> int:
    """The replay's stand-in for the original's DataLoader base seed (a non-negative int64)."""
    state = np.random.SeedSequence([eval_seed, _BASE_SEED_TAG]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def worker_numpy_seed(base: int, worker_id: int) -> list[int]:
    """The seed torch's DataLoader gives worker ``worker_id``'s numpy (torch >= 1.9, as the original's 1.10)."""
    from torch.utils.data._utils.worker import _generate_state

    return list(_generate_state(base, worker_id))


@functools.cache
def _state_after_gaussian(n_pixels: int) -> tuple:
    # AddGaussianNoise: np.random.seed(0), then h*w normals; the state afterwards depends on h*w only
    rs = np.random.RandomState(0)
    rs.normal(size=n_pixels)
    return rs.get_state()


def state_after_gaussian(h: int, w: int) -> np.random.RandomState:
    """numpy's global generator as the original left it after Gaussian-noising an h x w image."""
    rs = np.random.RandomState()
    rs.set_state(_state_after_gaussian(int(h) * int(w)))
    return rs


def mask_text_original(text: str, level: float, rs: np.random.RandomState) -> str:
    """The original's word masking: single-space pieces, one ``choice`` each (flag already drawn)."""
    q = 1 / 10 * level
    pieces = text.split(" ")
    for i in range(len(pieces)):
        if rs.choice([0, 1], p=[1 - q, q]):
            pieces[i] = MASK_TOKEN
    return " ".join(pieces)


def text_flag(rs: np.random.RandomState) -> bool:
    """The original's per-sample text flag: ``np.random.choice([0, 1], p=[.5, .5])``."""
    return bool(rs.choice([0, 1], p=[0.5, 0.5]))


@dataclass
class Replay:
    """What the original's evaluation did to each test sample under one condition."""

    image_noised: np.ndarray  # bool [N]
    text_noised: np.ndarray  # bool [N]: the text flag was drawn 1
    texts: list[str]  # the texts after masking
    salt_pepper_states: dict[int, tuple]  # sample index -> numpy state just before its mask draw


def worker_order(n: int, batch_size: int = ORIGINAL_BATCH_SIZE, workers: int = ORIGINAL_WORKERS):
    """Sample indices per worker, in the order each worker of the original DataLoader processed them."""
    order: list[list[int]] = [[] for _ in range(workers)]
    for b, start in enumerate(range(0, n, batch_size)):
        order[b % workers].extend(range(start, min(start + batch_size, n)))
    return order


def replay(
    noise_type: str,
    level: float,
    texts: list[str],
    sizes: np.ndarray,
    base: int,
    batch_size: int = ORIGINAL_BATCH_SIZE,
    workers: int = ORIGINAL_WORKERS,
) -> Replay:
    """Replay the original's draws for ``texts`` and images of ``sizes`` ([N, 2]: h, w after Resize).

    ``base`` is the DataLoader's base seed (:func:`base_seed` of the eval seed in the pipeline).
    """
    import torch

    n = len(texts)
    if len(sizes) != n:
        raise ValueError(f"replay needs one image size per text: {len(sizes)} sizes for {n} texts")
    image_noised, text_noised = np.zeros(n, bool), np.zeros(n, bool)
    out_texts, sp_states = list(texts), {}
    if level <= 0:  # the original built the clean transforms and skipped the text branch
        return Replay(image_noised, text_noised, out_texts, sp_states)
    for worker_id, indices in enumerate(worker_order(n, batch_size, workers)):
        rs = np.random.RandomState(worker_numpy_seed(base, worker_id))
        torch_gen = torch.Generator().manual_seed(base + worker_id)
        py_random = random.Random(base + worker_id)
        for i in indices:
            if text_flag(rs):
                text_noised[i] = True
                out_texts[i] = mask_text_original(texts[i], level, rs)
            if not 0.5 >= float(torch.rand(1, generator=torch_gen)):  # RandomApply(p=0.5)
                continue
            h, w = (int(v) for v in sizes[i])
            if noise_type == "gaussian":
                image_noised[i] = True
                rs = state_after_gaussian(h, w)
            elif noise_type == "salt_pepper":
                if py_random.uniform(0, 1) < level / 10:
                    image_noised[i] = True
                    sp_states[i] = rs.get_state()
                    rs.random_sample(h * w)  # the mask's draws: choice takes one uniform per pixel
            else:
                raise ValueError(f"no replay of the original for noise type {noise_type!r}")
    return Replay(image_noised, text_noised, out_texts, sp_states)


def salt_pepper_mask(state: tuple, h: int, w: int) -> np.ndarray:
    """The original's salt & pepper mask ([h, w]; 0 pepper, 1 salt, 2 keep) from the state before its draw."""
    rs = np.random.RandomState()
    rs.set_state(state)
    return rs.choice((0, 1, 2), size=(h, w, 1), p=list(SALT_PEPPER_CHOICE_P))[:, :, 0]
