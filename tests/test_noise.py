"""Tests for pdf_core.noise with hand-computed expected values."""

import numpy as np
import pytest

from pdf_core.noise import (
    NOISE_TYPES,
    NoiseCondition,
    TestNoiser,
    gaussian_image_clipped,
    gaussian_image_original,
    mask_text,
    salt_pepper_image,
)
from pdf_core.noise_replay import worker_order
from pdf_core.noise_types import PAPER_NOISE_TYPES
from pdf_core.parity import PARITY_CHOICES


class StubRng:
    """Returns fixed values, so expected outputs can be computed by hand."""

    def __init__(self, normal=None, uniform=None):
        self._normal = normal
        self._uniform = uniform
        self.calls = []

    def normal(self, loc, scale, size):
        self.calls.append(("normal", loc, scale, size))
        return np.asarray(self._normal, dtype=float).reshape(size)

    def random(self, size):
        self.calls.append(("random", size))
        return np.asarray(self._uniform, dtype=float).reshape(size)


# ---------------------------------------------------------------- Gaussian, original draws

# First six draws of np.random.RandomState(0).normal(0, 10, size=(2, 3, 1)) (printed once, rounded):
#   17.6405, 4.0016, 9.7874, 22.4089, 18.6756, -9.7728
PAPER_IMAGE = np.array(
    [
        [[250, 0, 100], [255, 10, 20], [0, 0, 0]],
        [[240, 1, 50], [0, 128, 237], [2, 9, 200]],
    ],
    dtype=np.uint8,
)
PAPER_EXPECTED_LEVEL1 = np.array(
    [
        # 250+17.6 -> 255 (clip), 0+17.6 -> 17, 100+17.6 -> 117 | +4.0 | +9.8
        [[255, 17, 117], [255, 14, 24], [9, 9, 9]],
        # +22.4 | +18.7 (237+18.7 -> 255) | -9.77: 2-9.77=-7.77 -> -7 -> 249 (wrap); 9-9.77=-0.77 -> 0
        [[255, 23, 72], [18, 146, 255], [249, 0, 190]],
    ],
    dtype=np.uint8,
)


def test_gaussian_paper_hand_computed_clip_and_wrap():
    img = PAPER_IMAGE.copy()
    out = gaussian_image_original(img, 1)
    np.testing.assert_array_equal(out, PAPER_EXPECTED_LEVEL1)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(img, PAPER_IMAGE)  # input untouched


def test_paper_noise_arithmetic_equals_the_integer_wrap_of_the_original():
    from pdf_core.noise import _apply_original_noise

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(4, 30, 30, 3), dtype=np.uint8)
    noise = rng.normal(0, 300, size=(30, 30, 1))  # far below -256 too: wraps more than once
    noise[0, :6, 0] = [-0.5, -1.0, -255.0, -256.0, -257.5, 0.999]  # -0.x truncates to 0, whole numbers exact
    want = (np.trunc(np.minimum(images.astype(np.float64) + noise, 255.0)).astype(np.int64) % 256).astype(np.uint8)
    np.testing.assert_array_equal(_apply_original_noise(images, noise), want)


def test_gaussian_paper_same_pattern_for_every_image_of_a_size():
    a = np.zeros((2, 3, 3), dtype=np.uint8) + 100
    b = np.zeros((2, 3, 3), dtype=np.uint8) + 120
    da = gaussian_image_original(a, 1).astype(int) - 100
    db = gaussian_image_original(b, 1).astype(int) - 120
    np.testing.assert_array_equal(da, db)
    # 100 + (17.64, 4.00, 9.79, 22.41, 18.68, -9.77) truncated: 117, 104, 109, 122, 118, 90
    np.testing.assert_array_equal(da[..., 0], [[17, 4, 9], [22, 18, -10]])
    assert (da == da[..., :1]).all()  # same value on all channels
    # repeated calls give the same result (RNG re-seeded each time), global RNG not used
    np.testing.assert_array_equal(gaussian_image_original(a, 1), gaussian_image_original(a, 1))


def test_gaussian_paper_level0_is_identity():
    img = np.random.default_rng(1).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(gaussian_image_original(img, 0), img)


# ---------------------------------------------------------------- Gaussian, project draws


def test_gaussian_clipped_hand_computed_clips_not_wraps():
    img = np.array([[[2, 100, 254], [254, 20, 0]]], dtype=np.uint8)
    rng = StubRng(normal=[-7.3, 3.6])
    out = gaussian_image_clipped(img, 2.5, rng)
    # 2-7.3 -> 0 (clip, not 251); 100-7.3=92.7 -> 93; 254-7.3=246.7 -> 247
    # 254+3.6 -> 255 (clip); 20+3.6 -> 24; 0+3.6 -> 4
    np.testing.assert_array_equal(out, [[[0, 93, 247], [255, 24, 4]]])
    assert rng.calls == [("normal", 0.0, 25.0, (1, 2, 1))]  # sigma = 10 * level, one value per pixel


def test_gaussian_clipped_zero_image_has_no_wrapped_values():
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    out = gaussian_image_clipped(img, 10, np.random.default_rng(0))
    assert (out == 0).mean() > 0.4  # roughly half the noise is negative -> clipped to 0
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    # the original's Gaussian on the same image wraps negatives instead: 0 + n (-256 < n < 0) -> 256 + trunc(n)
    paper = gaussian_image_original(img, 10).astype(int)
    noise = np.random.RandomState(0).normal(0, 100, size=(32, 32, 1))
    neg = (noise <= -1) & (noise > -256)
    assert neg.mean() > 0.4
    np.testing.assert_array_equal(paper[neg[..., 0]], np.repeat(256 + np.trunc(noise[neg]), 3).reshape(-1, 3))
    assert (paper == 0).mean() < 0.05


# ---------------------------------------------------------------- salt & pepper


def test_salt_pepper_hand_computed():
    img = np.array([[[5, 6, 7], [8, 9, 10], [11, 12, 13], [14, 15, 16]]], dtype=np.uint8)
    # density 0.1: u < 0.05 pepper, 0.05 <= u < 0.1 salt, else keep
    rng = StubRng(uniform=[0.01, 0.07, 0.5, 0.1])
    out = salt_pepper_image(img, rng, density=0.1)
    np.testing.assert_array_equal(out, [[[0, 0, 0], [255, 255, 255], [11, 12, 13], [14, 15, 16]]])
    np.testing.assert_array_equal(img[0, 0], [5, 6, 7])  # input untouched


@pytest.mark.parametrize("rng", [np.random.default_rng(3), np.random.RandomState(3)])
def test_salt_pepper_fraction_and_channels(rng):
    img = np.full((256, 256, 3), 128, dtype=np.uint8)
    out = salt_pepper_image(img, rng, density=0.1)
    changed = (out != img).any(axis=2)
    assert abs(changed.mean() - 0.1) < 0.01
    assert set(np.unique(out[changed])) <= {0, 255}
    assert abs((out[..., 0] == 0).mean() - 0.05) < 0.01
    assert abs((out[..., 0] == 255).mean() - 0.05) < 0.01
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


# ---------------------------------------------------------------- text


def test_mask_text_hand_computed_and_edges():
    rng = StubRng(uniform=[0.2, 0.6, 0.49])
    assert mask_text("a  cat\tsat", 0.5, rng) == "_ cat _"
    rng = np.random.default_rng(0)
    text = "the quick brown fox jumps"
    assert mask_text(text, 1.0, rng) == "_ _ _ _ _"
    assert mask_text(text, 0.0, rng) == text
    masked = mask_text(text, 0.5, rng)
    assert len(masked.split()) == 5
    assert mask_text("", 0.5, rng) == ""


# ---------------------------------------------------------------- NoiseCondition


def test_noise_condition_validation():
    assert PAPER_NOISE_TYPES == tuple(NOISE_TYPES)[:2] == ("gaussian", "salt_pepper")
    assert PARITY_CHOICES == ("project", "original")
    NoiseCondition("gaussian", 5, 0)
    with pytest.raises(ValueError, match="-1"):
        NoiseCondition("gaussian", -1, 0)
    with pytest.raises(ValueError, match="blur.*gaussian.*salt_pepper"):
        NoiseCondition("blur", 5, 0)
    with pytest.raises(ValueError, match="fancy.*project.*original"):
        NoiseCondition("gaussian", 5, 0, parity="fancy")


# ---------------------------------------------------------------- TestNoiser


def _data(n, seed=0, size=16):
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    texts = [" ".join(f"w{i}_{k}" for k in range(6)) for i in range(n)]
    return imgs, texts


def _noiser(cond, texts, hw=(16, 16)):
    """A noiser for ``texts`` whose images were all ``hw`` after Resize (the original draws replay them)."""
    return TestNoiser(cond, len(texts), texts, np.tile(hw, (len(texts), 1)))


@pytest.mark.parametrize("noise_parity", PARITY_CHOICES)
@pytest.mark.parametrize("noise_type", PAPER_NOISE_TYPES)  # the suite: test_noise_suite.py
def test_level0_is_identity(noise_type, noise_parity):
    imgs, texts = _data(20)
    noiser = _noiser(NoiseCondition(noise_type, 0, 1, noise_parity), texts)
    assert not noiser.image_noised.any() and not noiser.text_noised.any()
    np.testing.assert_array_equal(noiser.images(imgs, 0), imgs)
    assert noiser.texts(texts, 0) == texts


def test_flag_rates_project():
    n = 4000
    texts = ["a b"] * n
    g = _noiser(NoiseCondition("gaussian", 5, 2, "project"), texts)
    sp = _noiser(NoiseCondition("salt_pepper", 5, 2, "project"), texts)
    assert g.image_noised.shape == (n,) and g.image_noised.dtype == bool
    assert abs(g.image_noised.mean() - 0.5) < 0.03
    assert abs(sp.image_noised.mean() - 0.25) < 0.03
    assert abs(g.text_noised.mean() - 0.5) < 0.03
    assert abs(sp.text_noised.mean() - 0.5) < 0.03
    sp10 = _noiser(NoiseCondition("salt_pepper", 10, 2, "project"), texts)
    assert sp10.image_noised.mean() == pytest.approx(0.5, abs=0.03)


def test_flag_rates_paper_show_the_coupling():
    # After a Gaussian-noised 256 x 341 image the next text flag is 0; after a 256 x 384 one it is 1
    # (test_noise_replay): in each worker of the original loader, the sample after a noised image.
    # (Every later draw until the next noised image is fixed too, so the rates are not 1/2 either.)
    n = 4000
    texts = ["a b"] * n
    low = _noiser(NoiseCondition("gaussian", 5, 2, "original"), texts, (256, 341))
    high = _noiser(NoiseCondition("gaussian", 5, 2, "original"), texts, (256, 384))
    np.testing.assert_array_equal(low.image_noised, high.image_noised)  # RandomApply: torch, not numpy
    after_noised = np.zeros(n, bool)
    for indices in worker_order(n):
        after_noised[indices[1:]] = low.image_noised[indices[:-1]]
    assert after_noised.sum() > 1000
    assert not low.text_noised[after_noised].any() and high.text_noised[after_noised].all()
    assert low.text_noised.mean() < 0.4 < 0.6 < high.text_noised.mean()
    assert abs(low.image_noised.mean() - 0.5) < 0.03
    # salt & pepper does not re-seed numpy: texts stay at 1/2; images: RandomApply 1/2 x e/10
    sp = _noiser(NoiseCondition("salt_pepper", 5, 2, "original"), texts)
    assert abs(sp.text_noised.mean() - 0.5) < 0.03 and abs(sp.image_noised.mean() - 0.25) < 0.03


def test_paper_image_flags_are_the_same_at_every_level_of_one_eval_seed():
    # the original's RandomApply draws come from the worker's torch generator, seeded from the base seed only
    _, texts = _data(200)
    a = _noiser(NoiseCondition("gaussian", 5, 7, "original"), texts)
    b = _noiser(NoiseCondition("gaussian", 10, 7, "original"), texts)
    c = _noiser(NoiseCondition("gaussian", 5, 8, "original"), texts)
    np.testing.assert_array_equal(a.image_noised, b.image_noised)
    assert (a.image_noised != c.image_noised).any()


def test_flags_depend_on_seed_in_project_draws():
    _, texts = _data(100)
    a = _noiser(NoiseCondition("gaussian", 5, 7, "project"), texts)
    c = _noiser(NoiseCondition("gaussian", 5, 8, "project"), texts)
    assert (a.image_noised != c.image_noised).any()


@pytest.mark.parametrize("noise_parity", PARITY_CHOICES)
def test_noiser_only_flagged_samples_change_and_inputs_untouched(noise_parity):
    n = 30
    imgs, texts = _data(n)
    imgs0, texts0 = imgs.copy(), list(texts)
    noiser = _noiser(NoiseCondition("gaussian", 10, 0, noise_parity), texts)
    out = noiser.images(imgs, 0)
    tout = noiser.texts(texts, 0)
    np.testing.assert_array_equal(imgs, imgs0)
    assert texts == texts0
    img_changed = (out != imgs).reshape(n, -1).any(axis=1)
    np.testing.assert_array_equal(img_changed, noiser.image_noised)
    txt_changed = np.array([a != b for a, b in zip(tout, texts, strict=True)])
    np.testing.assert_array_equal(txt_changed, noiser.text_noised)
    np.testing.assert_array_equal(noiser.text_masked, noiser.text_noised)  # level 10 masks every word
    # level 10 -> word mask prob 1: every noised text is all blanks
    assert all(t == "_ _ _ _ _ _" for t, f in zip(tout, noiser.text_noised, strict=True) if f)


def test_text_masked_counts_only_changed_texts():
    # level 5 masks each word with probability 1/2: a flagged one-word text keeps its word about half the time
    texts = ["word"] * 400
    noiser = _noiser(NoiseCondition("salt_pepper", 5, 1, "project"), texts)
    out = noiser.texts(texts, 0)
    np.testing.assert_array_equal(noiser.text_masked, [t == "_" for t in out])
    assert 0 < noiser.text_masked.sum() < noiser.text_noised.sum()


def test_original_gaussian_noiser_uses_fixed_pattern():
    n = 40
    imgs = np.full((n, 8, 8, 3), 128, dtype=np.uint8)
    noiser = _noiser(NoiseCondition("gaussian", 5, 0, "original"), ["t"] * n, (8, 8))
    out = noiser.images(imgs, 0)
    idx = np.flatnonzero(noiser.image_noised)
    assert len(idx) >= 2
    for i in idx:
        np.testing.assert_array_equal(out[i], gaussian_image_original(imgs[i], 5))


def test_paper_gaussian_on_a_stored_square_is_the_centre_of_the_resized_images_pattern():
    # an image 8 x 13 after Resize, stored as its centre 8 x 8 square (columns round(5 / 2) = 2 .. 9):
    # the original noised all 8 x 13 pixels with one pattern; the store must see that pattern's columns 2..9
    imgs = np.full((40, 8, 8, 3), 100, dtype=np.uint8)
    noiser = _noiser(NoiseCondition("gaussian", 3, 0, "original"), ["t"] * 40, (8, 13))
    out = noiser.images(imgs, 0)
    i = np.flatnonzero(noiser.image_noised)[0]
    full = gaussian_image_original(np.full((8, 13, 3), 100, dtype=np.uint8), 3)
    np.testing.assert_array_equal(out[i], full[:, 2:10])


def test_project_gaussian_patterns_differ_between_samples():
    n = 40
    imgs = np.full((n, 8, 8, 3), 128, dtype=np.uint8)
    noiser = _noiser(NoiseCondition("gaussian", 5, 0, "project"), ["t"] * n)
    out = noiser.images(imgs, 0)
    i, j = np.flatnonzero(noiser.image_noised)[:2]
    assert (out[i] != out[j]).any()


@pytest.mark.parametrize("noise_parity", PARITY_CHOICES)
@pytest.mark.parametrize("noise_type", PAPER_NOISE_TYPES)  # the suite: test_noise_suite.py
def test_independent_of_chunking_and_order(noise_type, noise_parity):
    n = 25
    imgs, texts = _data(n)
    cond = NoiseCondition(noise_type, 10, 3, noise_parity)
    whole = _noiser(cond, texts)
    ref_img, ref_txt = whole.images(imgs, 0), whole.texts(texts, 0)
    assert (ref_img != imgs).any() and ref_txt != texts

    chunked = _noiser(cond, texts)
    # later chunk first, texts before images
    t2, i2 = chunked.texts(texts[10:], 10), chunked.images(imgs[10:], 10)
    t1, i1 = chunked.texts(texts[:10], 0), chunked.images(imgs[:10], 0)
    np.testing.assert_array_equal(np.concatenate([i1, i2]), ref_img)
    assert t1 + t2 == ref_txt


def test_original_draws_need_texts_and_sizes():
    with pytest.raises(ValueError, match="features stage"):
        TestNoiser(NoiseCondition("gaussian", 5, 0, "original"), 3)


def test_chunk_outside_range_rejected():
    imgs, texts = _data(5)
    noiser = _noiser(NoiseCondition("gaussian", 5, 0, "project"), texts[:4])
    with pytest.raises(ValueError, match="outside"):
        noiser.images(imgs, 0)
    with pytest.raises(ValueError, match="outside"):
        noiser.texts(texts[:2], 3)


def test_a_registered_noise_type_runs_its_own_function(monkeypatch):
    """Dispatch is by name through NOISE_TYPES: a new type never falls into another type's branch."""
    from pdf_core import noise

    def black(noiser, out, flags, start):
        out[flags] = 0

    monkeypatch.setitem(noise.NOISE_TYPES, "black", noise.NoiseType(99, lambda level: 1.0, black))
    images = np.full((4, 2, 2, 3), 200, np.uint8)
    # "project": the original draws exist for the original's types only
    noiser = TestNoiser(NoiseCondition("black", 5, 1, "project"), 4)
    assert noiser.image_noised.all()  # its own probability (1.0), not salt & pepper's 0.25
    assert (noiser.images(images, 0) == 0).all()
    with pytest.raises(ValueError, match="unknown noise_type 'blur'"):
        NoiseCondition("blur", 5, 1, "original")
