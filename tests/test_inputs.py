"""SplitInputs: device-resident batches equal the host path's; finetune inputs under a noise condition."""

import numpy as np
import torch
import yaml

from pdf_core.config import dataset_config
from pdf_core.data.glove import extract_glove
from pdf_core.data.splits import SPLITS, build_splits
from pdf_core.data.synthetic import generate
from pdf_core.features.store import build_features
from pdf_core.inputs import SplitInputs, finetune_inputs
from pdf_core.noise import NoiseCondition
from tests.conftest import PROJECT_ROOT


def _split(n=10):
    rng = np.random.default_rng(0)
    arrays = {
        "images": rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8),
        "input_ids": rng.integers(0, 100, (n, 5), dtype=np.int32),
        "attention_mask": np.ones((n, 5), dtype=np.int8),
    }
    return SplitInputs(arrays, rng.integers(0, 3, n).astype(np.int64))


def test_device_resident_batch_equals_host_batch():
    host = _split()
    resident = host.to_device(torch.device("cpu"))
    assert all(isinstance(v, torch.Tensor) for v in resident.arrays.values())
    assert resident.nbytes() == host.nbytes() == 10 * (48 + 20 + 5) + 10 * 8
    idx = np.array([7, 2, 2, 9])
    a, b = host.batch(idx, torch.device("cpu")), resident.batch(idx, torch.device("cpu"))
    assert a.keys() == b.keys() == {"images", "input_ids", "attention_mask", "labels", "index"}
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
    assert b["index"].tolist() == [7, 2, 2, 9]
    assert torch.equal(b["images"][0], torch.from_numpy(host.arrays["images"][7]))


def test_finetune_inputs_under_a_suite_type_corrupt_only_its_modality(tmp_path):
    """The end-to-end path noises the store and the raw texts as the frozen path does; flags follow the type."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    ds = dataset_config(params, "synthetic")
    raw, splits, glove, feats = (tmp_path / d for d in ("raw", "splits", "glove", "feats"))
    generate(raw, seed=0, n_samples=40, n_classes=3, image_size=32)
    build_splits("synthetic", raw, splits, {"seed": 0})
    extract_glove([splits / f"{s}.jsonl" for s in SPLITS], ds["glove_spec"]["source"], True, glove, False)
    build_features(splits, raw, feats, ds["text_encoder_spec"], 32, "error")
    clean = finetune_inputs(feats, "test", ds, glove)

    blurred = finetune_inputs(feats, "test", ds, glove, NoiseCondition("gaussian_blur", 10, 1, "project"))
    changed = (blurred.arrays["images"] != clean.arrays["images"]).reshape(len(clean), -1).any(axis=1)
    assert changed.any() and np.array_equal(changed, blurred.image_noised)
    assert np.array_equal(blurred.arrays["input_ids"], clean.arrays["input_ids"])
    assert not blurred.text_noised.any() and not blurred.text_masked.any()

    dropped = finetune_inputs(feats, "test", ds, glove, NoiseCondition("word_dropout", 10, 1, "project"))
    assert np.array_equal(dropped.arrays["images"], clean.arrays["images"]) and not dropped.image_noised.any()
    changed = (dropped.arrays["input_ids"] != clean.arrays["input_ids"]).any(axis=1)
    assert dropped.text_masked.any() and np.array_equal(changed, dropped.text_masked)
