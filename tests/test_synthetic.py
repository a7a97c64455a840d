"""The synthetic generator's per-sample corruption (pdf_core/data/synthetic.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pdf_core.data.synthetic import corrupt_image, corruption_strength, generate
from pdf_core.text import MASK_TOKEN


class FixedDraws:
    """A generator stand-in whose ``random(2)`` returns given values."""

    def __init__(self, *pairs):
        self.pairs = list(pairs)

    def random(self, size):
        assert size == 2
        return np.array(self.pairs.pop(0))


def test_corruption_strength_hand_computed():
    # hit 0.2 < p 0.5: strength = 100 * (1 - 0.25) = 75; hit 0.7 >= 0.5: none
    rng = FixedDraws((0.2, 0.25), (0.7, 0.25), (0.0, 0.0))
    assert corruption_strength(rng, 0.5, 100.0) == 75.0
    assert corruption_strength(rng, 0.5, 100.0) == 0.0
    assert corruption_strength(rng, 0.5, 100.0) == 100.0  # u = 0 gives the top, never 0: (0, top]


def test_corruption_strength_consumes_two_draws_even_when_off():
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    assert corruption_strength(a, 0.0, 50.0) == 0.0
    b.random(2)
    assert a.random() == b.random()


def test_corrupt_image_noise_std_and_channels():
    grey = Image.fromarray(np.full((200, 200, 3), 128, np.uint8))
    assert corrupt_image(grey, 0.0, np.random.default_rng(0)) is grey
    noised = np.asarray(corrupt_image(grey, 20.0, np.random.default_rng(0))).astype(float)
    diff = noised - 128.0
    assert abs(diff.std() - 20.0) < 0.5  # 40k pixels, 128 +- 6 std never clips
    assert np.array_equal(noised[..., 0], noised[..., 1]) and np.array_equal(noised[..., 0], noised[..., 2])


def _generate(tmp_path, name, **corruption):
    raw = generate(tmp_path / name, seed=4, n_samples=60, n_classes=3, image_size=48, **corruption)
    quality = pd.read_csv(raw / "sample_quality.tsv", sep="\t", dtype={"id": str})
    return raw, quality


def test_corruption_leaves_content_and_clean_samples_unchanged(tmp_path):
    clean_raw, clean_q = _generate(tmp_path, "clean")
    raw, q = _generate(
        tmp_path, "corrupt", image_noise_p=0.5, image_noise_std_max=80.0, text_mask_p=0.5, text_mask_rate_max=1.0
    )
    assert list(q.columns) == ["id", "image_quality", "text_quality", "image_noise_std", "text_mask_rate"]
    assert (clean_q[["image_noise_std", "text_mask_rate"]] == 0).all().all()
    # same content draws: labels and quality levels identical
    assert (raw / "labels.tsv").read_text() == (clean_raw / "labels.tsv").read_text()
    assert q["image_quality"].equals(clean_q["image_quality"]) and q["text_quality"].equals(clean_q["text_quality"])
    noised, masked = q["image_noise_std"] > 0, q["text_mask_rate"] > 0
    assert 15 <= noised.sum() <= 45 and 15 <= masked.sum() <= 45  # p = 0.5 of 60
    assert q["image_noise_std"].max() <= 80.0 and q["text_mask_rate"].max() <= 1.0
    for row in q.itertuples():
        image = (raw / "data" / f"{row.id}.jpg").read_bytes()
        assert (image == (clean_raw / "data" / f"{row.id}.jpg").read_bytes()) == (row.image_noise_std == 0)
        text = (raw / "data" / f"{row.id}.txt").read_text().split()
        clean_text = (clean_raw / "data" / f"{row.id}.txt").read_text().split()
        assert len(text) == len(clean_text)
        assert all(w == c or w == MASK_TOKEN for w, c in zip(text, clean_text, strict=True))
        if row.text_mask_rate == 0:
            assert text == clean_text
    assert any(MASK_TOKEN in (raw / "data" / f"{i}.txt").read_text().split() for i in q["id"][masked])


@pytest.mark.parametrize(
    ("key", "value"),
    [("image_noise_p", 1.5), ("text_mask_rate_max", 2.0), ("image_noise_std_max", -1.0), ("text_mask_p", True)],
)
def test_bad_corruption_setting_names_key_and_keeps_existing_data(tmp_path, key, value):
    raw, _ = _generate(tmp_path, "data")
    before = (raw / "labels.tsv").read_text()
    with pytest.raises(ValueError, match=f"generate.{key} must be"):
        generate(raw, seed=4, n_samples=60, n_classes=3, image_size=48, **{key: value})
    assert (raw / "labels.tsv").read_text() == before
