"""Toy frozen caches for training tests (tests/test_reliability.py kills and resumes on them); checkpoint refusal."""

import json

import numpy as np
import pytest
import yaml

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.reliability


def _make_caches(root, n_train=800, n_dev=200, n_classes=4):
    """Frozen caches of a small learnable problem (features = class prototype + noise)."""
    rng = np.random.default_rng(0)
    frozen = root / "data/features/toy/frozen"
    frozen.mkdir(parents=True)
    protos = {
        "txt": rng.normal(size=(n_classes, 32)),
        "img": rng.normal(size=(n_classes, 3, 16)),
        "bow": rng.normal(size=(n_classes, 8)),
    }
    for split, n in (("train", n_train), ("dev", n_dev)):
        labels = rng.integers(0, n_classes, n)
        arrays = {
            k: (p[labels] + 2.0 * rng.normal(size=(n,) + p.shape[1:])).astype(np.float32) for k, p in protos.items()
        }
        np.savez(
            frozen / f"{split}.npz",
            **arrays,
            labels=labels,
            input_ids=np.zeros((n, 4), np.int32),
            attention_mask=np.ones((n, 4), np.int8),
            image_noised=np.zeros(n, bool),
            text_noised=np.zeros(n, bool),
        )
    (root / "data/features/toy/classes.json").write_text(json.dumps([f"c{i}" for i in range(n_classes)]))
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["datasets"]["toy"] = dict(params["datasets"]["synthetic"])
    params["grid"]["datasets"] = ["toy"]
    params["train"].update(max_epochs=15, patience=None, micro_batch=8, grad_accum=2)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def test_checkpoint_of_other_config_is_refused(tmp_path):
    from pdf_core.train import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "last.pt", {"fingerprint": "aaaa", "model": {}})
    with pytest.raises(ValueError, match="different model config"):
        load_checkpoint(tmp_path / "last.pt", "bbbb")
