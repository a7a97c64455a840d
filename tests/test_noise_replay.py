"""The replay of the original evaluation's draws (pdf_core.noise_replay) against the facts and a real DataLoader."""

import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from pdf_core.noise_replay import (
    SALT_PEPPER_CHOICE_P,
    mask_text_original,
    replay,
    salt_pepper_mask,
    state_after_gaussian,
    text_flag,
    worker_order,
)


@pytest.mark.parametrize(
    ("h", "w", "flag"),
    [
        (256, 256, 0),
        (256, 341, 0),
        (341, 256, 0),
        (256, 455, 0),
        (455, 256, 0),
        (256, 384, 1),
        (256, 320, 1),
        (192, 256, 1),
    ],
)
def test_text_flag_after_a_gaussian_image_of_each_size(h, w, flag):
    # the facts: numpy seeded 0, h*w normals, then np.random.choice([0, 1], p=[.5, .5])
    direct = np.random.RandomState(0)
    direct.normal(0, 1, size=(h, w, 1))
    assert direct.choice([0, 1], p=[0.5, 0.5]) == flag
    assert text_flag(state_after_gaussian(h, w)) == flag


def test_mask_text_original_splits_on_single_spaces():
    # level 10: q = 1 -> every piece masked, including the empty pieces of a double and a leading space
    rs = np.random.RandomState(0)
    assert mask_text_original(" a  b", 10.0, rs) == "_ _ _ _"
    # level 0 < q: one choice per piece is still drawn (4 pieces -> 4 uniforms)
    a, b = np.random.RandomState(1), np.random.RandomState(1)
    mask_text_original("w x y z", 5.0, a)
    b.random_sample(4)
    assert a.random_sample() == b.random_sample()


def test_worker_order_is_round_robin_by_batch():
    # batches of 2 over 3 workers: batch 0 -> w0, 1 -> w1, 2 -> w2, 3 -> w0
    assert worker_order(7, batch_size=2, workers=3) == [[0, 1, 6], [2, 3], [4, 5]]


def test_salt_pepper_mask_consumes_one_uniform_per_pixel_and_matches_choice():
    rs = np.random.RandomState(3)
    state = rs.get_state()
    mask = rs.choice((0, 1, 2), size=(4, 5, 1), p=list(SALT_PEPPER_CHOICE_P))[:, :, 0]
    np.testing.assert_array_equal(salt_pepper_mask(state, 4, 5), mask)
    skip = np.random.RandomState()
    skip.set_state(state)
    skip.random_sample(20)
    assert skip.random_sample() == rs.random_sample()


class OriginalTestSet(Dataset):
    """The original's per-sample draws (QMF 8c16860 src/data/dataset.py), on the worker's global generators."""

    def __init__(self, texts, sizes, noise_type, level):
        self.texts, self.sizes, self.noise_type, self.level = texts, sizes, noise_type, level

    def __len__(self):
        return len(self.texts)

    def __getitem__(self, index):
        text, flag = self.texts[index], np.random.choice([0, 1], p=[0.5, 0.5])
        if flag:
            words = text.split(" ")
            for i in range(len(words)):
                q = 1 / 10 * self.level
                if np.random.choice([0, 1], p=[1 - q, q]):
                    words[i] = "_"
            text = " ".join(words)
        noised, mask_sum = False, -1
        if not 0.5 < torch.rand(1):  # RandomApply(p=0.5)
            h, w = self.sizes[index]
            if self.noise_type == "gaussian":
                np.random.seed(0)
                np.random.normal(0, 1, size=(h, w, 1))
                noised = True
            elif random.uniform(0, 1) < self.level / 10:
                mask = np.random.choice((0, 1, 2), size=(h, w, 1), p=list(SALT_PEPPER_CHOICE_P))
                noised, mask_sum = True, int(mask.sum())
        base = get_worker_info().seed - get_worker_info().id
        return index, bool(flag), text, noised, mask_sum, base


@pytest.mark.filterwarnings("ignore:This DataLoader will create 12 worker processes")
@pytest.mark.parametrize("noise_type", ["gaussian", "salt_pepper"])
def test_replay_equals_a_real_dataloader_with_12_workers(noise_type):
    n = 400  # 25 batches of 16: workers 0 and 1 get three batches, the others two
    rng = np.random.default_rng(0)
    sizes = np.array([(256, 341), (256, 384), (20, 30), (31, 17)])[rng.integers(0, 4, n)]
    texts = [" ".join(["w"] * k) for k in rng.integers(1, 6, n)]
    loader = DataLoader(
        OriginalTestSet(texts, sizes, noise_type, 5.0),
        batch_size=16,
        num_workers=12,
        collate_fn=list,
        generator=torch.Generator().manual_seed(1),
    )
    rows = [row for batch in loader for row in batch]
    base = rows[0][5]
    got = replay(noise_type, 5.0, texts, sizes, base)
    assert [r[0] for r in rows] == list(range(n))
    np.testing.assert_array_equal(got.text_noised, [r[1] for r in rows])
    assert got.texts == [r[2] for r in rows]
    np.testing.assert_array_equal(got.image_noised, [r[3] for r in rows])
    assert 0.2 < got.text_noised.mean() < 0.8 and got.image_noised.any()
    if noise_type == "salt_pepper":
        for i, (_, _, _, noised, mask_sum, _) in enumerate(rows):
            if noised:
                assert int(salt_pepper_mask(got.salt_pepper_states[i], *sizes[i]).sum()) == mask_sum
