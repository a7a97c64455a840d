"""The wider noise suite (pdf_core.corruptions, its types in pdf_core.noise): hand-computed values per family,
the per-sample flags, seeding per (eval seed, sample) under either parity.noise, and validation."""

import copy
import re
import subprocess
import sys

import numpy as np
import pytest

from pdf_core import corruptions
from pdf_core.config import PROJECT_ROOT, ParamsError, load_params, load_schema, validate_params
from pdf_core.features.images import PLACEHOLDER_GREY
from pdf_core.noise import NOISE_TYPES, NoiseCondition, TestNoiser
from pdf_core.noise_types import NOISE_DECLARATIONS, NOISE_TYPE_NAMES, PAPER_NOISE_TYPES, level_fraction, severity

SUITE = [name for name in NOISE_TYPE_NAMES if name not in PAPER_NOISE_TYPES]
IMAGE_ONLY = [name for name in SUITE if NOISE_DECLARATIONS[name].corrupts == ("image",)]
TEXT_ONLY = [name for name in SUITE if NOISE_DECLARATIONS[name].corrupts == ("text",)]


class ScriptedRng:
    """Hands out scripted uniforms and integers in order, so every corruption can be computed by hand."""

    def __init__(self, uniform=(), integers=()):
        self._uniform, self._integers = list(uniform), list(integers)

    def random(self, size):
        values, self._uniform = self._uniform[:size], self._uniform[size:]
        return np.asarray(values, dtype=float)

    def integers(self, low, high, size=None):
        count = 1 if size is None else size
        values, self._integers = self._integers[:count], self._integers[count:]
        assert len(values) == count and all(low <= v < high for v in values), (values, low, high)
        return values[0] if size is None else np.asarray(values)


def test_the_suite_has_every_family_and_each_corrupts_one_modality():
    # a new type only adds to these lists (docs/extending.md)
    assert {"missing_image", "gaussian_blur", "jpeg", "brightness", "contrast", "occlusion"} <= set(IMAGE_ONLY)
    assert {"missing_text", "char_typos", "word_dropout", "word_swap"} <= set(TEXT_ONLY)
    assert sorted(IMAGE_ONLY + TEXT_ONLY) == sorted(SUITE)
    codes = [declared.seed_code for declared in NOISE_DECLARATIONS.values()]
    assert len(set(codes)) == len(codes)  # a seed code is never reused
    assert list(NOISE_TYPES) == list(NOISE_TYPE_NAMES)


def test_levels_map_onto_severities_and_missing_rates():
    # ceil(level / 2) capped at 5: the paper's grid {0, 5, 10} -> clean, 3, 5
    assert [severity(lvl) for lvl in (0, 0.5, 1, 2, 3, 4, 5, 6, 9, 10, 12)] == [0, 1, 1, 1, 2, 2, 3, 3, 5, 5, 5]
    assert [level_fraction(lvl) for lvl in (0, 2.5, 5, 10, 20)] == [0.0, 0.25, 0.5, 1.0, 1.0]


# ---------------------------------------------------------------- image families


def test_gaussian_blur_of_an_impulse_is_the_gaussian_kernel():
    # severity 1 on a 224-pixel image: sigma 1, radius 4; 1-D weights e^(-i^2/2) / sum over i = -4..4 (2.50663):
    # k0 = 0.39894, k1 = 0.24197, k2 = 0.05399. 2-D value = 255 k_r k_c, rounded:
    # centre 255 * 0.15915 = 40.58 -> 41; (0, 1) 255 * 0.09653 = 24.62 -> 25; (1, 1) 14.93 -> 15; (0, 2) 5.49 -> 5
    images = np.zeros((2, 224, 224, 3), np.uint8)
    images[0, 112, 112] = 255
    out = corruptions.gaussian_blur(images, 1)
    np.testing.assert_array_equal(out[0, 112, 108:117, 0], [0, 0, 5, 25, 41, 25, 5, 0, 0])
    np.testing.assert_array_equal(out[0, 111, 111:114, 0], [15, 25, 15])
    assert (out[0, ..., 0] == out[0, ..., 2]).all() and not out[1].any()  # channels alike, images apart
    assert corruptions.blur_sigma(5, 112) == 3.0  # ImageNet-C's 6 pixels at 224, halved on a 112-pixel store


def test_brightness_multiplies_clips_and_truncates():
    images = np.array([[[[100, 200, 230], [101, 0, 255]]]], np.uint8)
    # factor 1.2: 230 * 1.2 = 276 -> 255, 101 * 1.2 = 121.2 -> 121; factor 1.4: 101 -> 141.4 -> 141
    np.testing.assert_array_equal(corruptions.brightness(images, 1), [[[[120, 240, 255], [121, 0, 255]]]])
    np.testing.assert_array_equal(corruptions.brightness(images, 2), [[[[140, 255, 255], [141, 0, 255]]]])


def test_contrast_blends_towards_the_mean_grey():
    # grey 100 and 200: luma 0.2989 + 0.587 + 0.114 = 0.9999 of it, floored: 99 and 199, mean 149;
    # factor 0.4: 0.4 * 100 + 0.6 * 149 = 129.4 -> 129, 0.4 * 200 + 89.4 = 169.4 -> 169
    images = np.array([[[[100] * 3, [200] * 3]]], np.uint8)
    np.testing.assert_array_equal(corruptions.contrast(images, 1), [[[[129] * 3, [169] * 3]]])


def test_jpeg_keeps_a_flat_image_and_loses_more_at_each_severity():
    flat = np.full((1, 16, 16, 3), 128, np.uint8)
    np.testing.assert_array_equal(corruptions.jpeg(flat, 5), flat)  # a flat block survives every quality
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    errors = [np.abs(corruptions.jpeg(images, s).astype(int) - images).mean() for s in range(1, 6)]
    assert errors == sorted(errors) and errors[0] > 10  # quality 25 -> 7
    np.testing.assert_array_equal(corruptions.jpeg(images, 3), corruptions.jpeg(images, 3))


def test_occlusion_blacks_out_one_box_at_the_drawn_corner():
    image = np.full((10, 10, 3), 200, np.uint8)
    # severity 1: side round(0.2 * 10) = 2; top drawn from 0..8 -> 3, left -> 5
    out = corruptions.occlude(image, 1, ScriptedRng(integers=[3, 5]))
    want = image.copy()
    want[3:5, 5:7] = 0
    np.testing.assert_array_equal(out, want)
    # severity 5: side 6, the corner drawn from 0..4, so the box always lies inside the image
    out = corruptions.occlude(image, 5, np.random.default_rng(1))
    assert (out == 0).all(axis=2).sum() == 36 and (image == 200).all()


def test_missing_image_is_the_stores_placeholder():
    out = corruptions.missing(np.zeros((2, 4, 4, 3), np.uint8))
    assert (out == PLACEHOLDER_GREY).all() and out.dtype == np.uint8


def test_severity_outside_1_to_5_is_refused():
    with pytest.raises(ValueError, match="severity must be 1..5, got 0"):
        corruptions.jpeg(np.zeros((1, 8, 8, 3), np.uint8), 0)


# ---------------------------------------------------------------- text families


def test_keyboard_neighbours_by_hand():
    n = corruptions.NEIGHBOURS
    assert (n["a"], n["g"], n["m"], n["p"], n["s"]) == ("qswz", "bfhtvy", "jkn", "lo", "adewxz")
    assert all(key in n[near] for key in n for near in n[key])  # touching is mutual


def test_each_typo_kind_by_hand():
    assert corruptions.typo("cat", "insert", ScriptedRng(integers=[1, 25])) == "czat"  # at 1, letter 25 = z
    assert corruptions.typo("cat", "delete", ScriptedRng(integers=[0])) == "at"
    assert corruptions.typo("cat", "swap", ScriptedRng(integers=[1])) == "cta"
    # letter 0 ('C'); c's neighbours "dfvx", the third: v, in the letter's case
    assert corruptions.typo("Cat", "keyboard", ScriptedRng(integers=[0, 2])) == "Vat"
    assert corruptions.typo("a1", "keyboard", ScriptedRng(integers=[0, 0])) == "q1"  # digits are not keys here
    assert corruptions.typo_kinds("a") == ("insert", "keyboard")
    assert corruptions.typo_kinds("42") == ("insert", "delete", "swap")
    with pytest.raises(ValueError, match="'delete' does not apply to 'a'"):
        corruptions.typo("a", "delete", ScriptedRng())


def test_char_typos_hits_each_word_with_the_rate():
    # rate 0.1: 0.05 hits "the", 0.9 spares "cat"; "the" admits all four kinds, kind 2 = swap, at 0
    rng = ScriptedRng(uniform=[0.05, 0.9], integers=[2, 0])
    assert corruptions.char_typos("the  cat", 0.1, rng) == "hte cat"


def test_drop_words_and_swap_words_by_hand():
    assert corruptions.drop_words("a b c d", 0.1, ScriptedRng(uniform=[0.05, 0.5, 0.01, 0.3])) == "b d"
    # rate 0.3 hits a (0.05) and c (0.2); picks drawn for all three words: 2, 0, 1 of (x, y, z)
    rng = ScriptedRng(uniform=[0.05, 0.5, 0.2], integers=[2, 0, 1])
    assert corruptions.swap_words("a b c", 0.3, ["x", "y", "z"], rng) == "z b y"
    with pytest.raises(ValueError, match="non-empty vocabulary"):
        corruptions.swap_words("a", 0.5, [], np.random.default_rng(0))


# ---------------------------------------------------------------- through TestNoiser


def _data(n, seed=0, size=16):
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 256, size=(n, size, size, 3), dtype=np.uint8)
    texts = [" ".join(f"w{i}q{k}" for k in range(4)) for i in range(n)]
    return images, texts


def _noised(cond, images, texts):
    noiser = TestNoiser(cond, len(texts), texts)
    return noiser, noiser.images(images, 0), noiser.texts(texts, 0)


@pytest.mark.parametrize("noise_type", SUITE)
def test_flags_say_what_each_type_corrupted(noise_type):
    images, texts = _data(60)
    noiser, out_images, out_texts = _noised(NoiseCondition(noise_type, 10, 1, "project"), images, texts)
    image_changed = (out_images != images).reshape(len(texts), -1).any(axis=1)
    text_changed = np.array([a != b for a, b in zip(out_texts, texts, strict=True)])
    np.testing.assert_array_equal(noiser.text_masked, text_changed)
    if noise_type in IMAGE_ONLY:
        assert not noiser.text_noised.any() and not text_changed.any()
        assert noiser.image_noised.any() and not image_changed[~noiser.image_noised].any()
        np.testing.assert_array_equal(image_changed, noiser.image_noised)  # every family changes these images
    else:
        assert not noiser.image_noised.any() and not image_changed.any()
        assert noiser.text_noised.any() and not text_changed[~noiser.text_noised].any()


@pytest.mark.parametrize("noise_type", SUITE)
def test_level0_is_clean_and_chunks_give_the_whole(noise_type):
    images, texts = _data(25)
    noiser, out_images, out_texts = _noised(NoiseCondition(noise_type, 0, 3, "project"), images, texts)
    assert not noiser.image_noised.any() and not noiser.text_noised.any()
    np.testing.assert_array_equal(out_images, images)
    assert out_texts == texts
    cond = NoiseCondition(noise_type, 5, 3, "project")
    _, whole_images, whole_texts = _noised(cond, images, texts)
    chunked = TestNoiser(cond, len(texts), texts)
    later = chunked.texts(texts[10:], 10), chunked.images(images[10:], 10)  # later chunk first
    first = chunked.texts(texts[:10], 0), chunked.images(images[:10], 0)
    np.testing.assert_array_equal(np.concatenate([first[1], later[1]]), whole_images)
    assert first[0] + later[0] == whole_texts


def test_missing_modalities_at_the_levels_rate():
    images, texts = _data(4000, size=2)
    noiser, out_images, _ = _noised(NoiseCondition("missing_image", 5, 2, "project"), images, texts)
    assert noiser.image_noised.mean() == pytest.approx(0.5, abs=0.03)
    assert (out_images[noiser.image_noised] == PLACEHOLDER_GREY).all()
    noiser, _, out_texts = _noised(NoiseCondition("missing_text", 10, 2, "project"), images, texts)
    assert noiser.text_noised.all() and set(out_texts) == {""} and noiser.text_masked.all()
    # an already empty text goes missing unchanged: drawn for it, not counted as changed
    noiser = TestNoiser(NoiseCondition("missing_text", 10, 2, "project"), 2, ["", "a"])
    assert noiser.texts(["", "a"], 0) == ["", ""] and noiser.text_masked.tolist() == [False, True]


def test_each_sample_draws_from_its_own_eval_seed_and_index_generator():
    images, texts = _data(30)
    noiser, out_images, _ = _noised(NoiseCondition("occlusion", 5, 4, "project"), images, texts)
    for i in np.flatnonzero(noiser.image_noised):  # image stream 1, severity ceil(5 / 2) = 3
        want = corruptions.occlude(images[i], 3, np.random.default_rng([4, int(i), 1]))
        np.testing.assert_array_equal(out_images[i], want)
    noiser, _, out_texts = _noised(NoiseCondition("char_typos", 10, 4, "project"), images, texts)
    for i in np.flatnonzero(noiser.text_noised):  # text stream 2, severity 5: rate 0.5
        assert out_texts[i] == corruptions.char_typos(texts[i], 0.5, np.random.default_rng([4, int(i), 2]))
    other = TestNoiser(NoiseCondition("char_typos", 10, 5, "project"), len(texts), texts)
    assert (other.text_noised != noiser.text_noised).any()


def test_word_swap_draws_from_the_splits_vocabulary():
    texts = ["b a", "c a", "a a a"]
    noiser = TestNoiser(NoiseCondition("word_swap", 10, 1, "project"), 3, texts)
    assert noiser.vocabulary == ["a", "b", "c"]
    assert {w for t in noiser.texts(texts, 0) for w in t.split()} <= {"a", "b", "c"}
    blind = TestNoiser(NoiseCondition("word_swap", 10, 1, "project"), 3)
    with pytest.raises(ValueError, match="split's texts"):
        blind.texts(texts, 0)


# ---------------------------------------------------------------- parity.noise, schema, docs


@pytest.mark.parametrize("noise_type", SUITE)
def test_original_noise_parity_draws_a_suite_type_as_project(noise_type):
    # no original to replay: flags, images and texts per (eval seed, sample), exactly as under `project`
    images, texts = _data(40)
    original, original_images, original_texts = _noised(NoiseCondition(noise_type, 10, 3, "original"), images, texts)
    project, project_images, project_texts = _noised(NoiseCondition(noise_type, 10, 3, "project"), images, texts)
    assert original.replay is None and not original.cond.replays_original
    for flags in ("image_noised", "text_noised", "text_masked"):
        np.testing.assert_array_equal(getattr(original, flags), getattr(project, flags))
    np.testing.assert_array_equal(original_images, project_images)
    assert original_texts == project_texts


@pytest.mark.parametrize("noise_type", PAPER_NOISE_TYPES)
def test_original_noise_parity_replays_the_papers_types_and_needs_the_recorded_sizes(noise_type):
    cond = NoiseCondition(noise_type, 5, 1, "original")
    assert cond.replays_original and not NoiseCondition(noise_type, 5, 1, "project").replays_original
    with pytest.raises(ValueError, match="replays the original evaluation and needs"):
        TestNoiser(cond, 2, ["a b", "c"])  # no image sizes: nothing to replay the draws on
    noiser = TestNoiser(cond, 2, ["a b", "c"], np.array([[16, 16], [16, 20]]))
    assert noiser.replay is not None


@pytest.fixture
def params():
    return load_params(PROJECT_ROOT / "params.yaml")


def test_validation_takes_every_type_under_both_noise_parities_and_names_an_unknown_one(params):
    assert load_schema()["$defs"]["noiseType"]["enum"] == list(NOISE_TYPE_NAMES)
    config = copy.deepcopy(params)
    config["grid"]["noise_types"] = list(NOISE_TYPE_NAMES)
    for noise_parity in ("original", "project"):
        config["parity"]["noise"] = noise_parity
        validate_params(config)
    config["grid"]["noise_types"] = ["gaussian", "wordswap"]
    with pytest.raises(ParamsError, match=r"'grid.noise_types\[1\]': 'wordswap' is not one of"):
        validate_params(config)


def test_the_declarations_import_no_numpy_or_torch():
    code = "import sys, pdf_core.config; print(sorted({'numpy', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    assert out.stdout.strip() == "[]"


def test_docs_table_has_one_row_per_type():
    rows = re.findall(
        r"^\| `([a-z_]+)` \|", (PROJECT_ROOT / "docs" / "noise.md").read_text(encoding="utf-8"), flags=re.M
    )
    assert sorted(rows) == sorted(NOISE_TYPE_NAMES) and len(rows) == len(set(rows))
