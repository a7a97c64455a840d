"""A training run killed with SIGKILL and restarted ends with the same checkpoint and metrics (CPU)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.reliability


def _make_caches(root, n_train=800, n_dev=200, n_classes=4):
    """Frozen caches of a small learnable problem (features = class prototype + noise)."""
    rng = np.random.default_rng(0)
    frozen = root / "data/features/toy/frozen"
    frozen.mkdir(parents=True)
    protos = {"txt": rng.normal(size=(n_classes, 32)), "img": rng.normal(size=(n_classes, 3, 16)),
              "bow": rng.normal(size=(n_classes, 8))}
    for split, n in (("train", n_train), ("dev", n_dev)):
        labels = rng.integers(0, n_classes, n)
        arrays = {k: (p[labels] + 2.0 * rng.normal(size=(n,) + p.shape[1:])).astype(np.float32) for k, p in protos.items()}
        np.savez(frozen / f"{split}.npz", **arrays, labels=labels, input_ids=np.zeros((n, 4), np.int32),
                 attention_mask=np.ones((n, 4), np.int8), image_noised=np.zeros(n, bool), text_noised=np.zeros(n, bool))
    (root / "data/features/toy/classes.json").write_text(json.dumps([f"c{i}" for i in range(n_classes)]))
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["datasets"]["toy"] = dict(params["datasets"]["synthetic"])
    params["grid"]["datasets"] = ["toy"]
    params["train"].update(max_epochs=15, patience=None, micro_batch=8, grad_accum=2)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def _train(root, run_dir, env, kill_after_checkpoint=False):
    cmd = [sys.executable, "-m", "pdf_core", "train", "--dataset", "toy", "--model", "qmf", "--seed", "3",
           "--run-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if kill_after_checkpoint:
        deadline = time.time() + 120
        while not (run_dir / "last.pt").exists():
            assert proc.poll() is None, "finished before it could be killed: " + proc.stdout.read()
            assert time.time() < deadline
            time.sleep(0.01)
        time.sleep(0.3)  # somewhere in the next epoch (or in the middle of writing a checkpoint)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        return None
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    return out


def test_killed_training_resumes_to_identical_result(tmp_path, cli_env):
    _make_caches(tmp_path)
    clean, killed = tmp_path / "runs/clean", tmp_path / "runs/killed"
    _train(tmp_path, clean, cli_env)
    _train(tmp_path, killed, cli_env, kill_after_checkpoint=True)
    assert not (killed / "dev_metrics.json").exists()  # nothing that looks complete
    assert "resumed" in _train(tmp_path, killed, cli_env)

    assert (killed / "dev_metrics.json").read_text() == (clean / "dev_metrics.json").read_text()
    a = torch.load(clean / "model.pt", weights_only=True)
    b = torch.load(killed / "model.pt", weights_only=True)
    assert a["epoch"] == b["epoch"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert not (killed / "last.pt").exists()
    log_a = [json.loads(l) for l in (clean / "train_log.jsonl").read_text().splitlines()]
    log_b = [json.loads(l) for l in (killed / "train_log.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["train_loss"], r["dev_acc"]) for r in log_a] == \
           [(r["epoch"], r["train_loss"], r["dev_acc"]) for r in log_b]


def test_checkpoint_of_other_config_is_refused(tmp_path):
    from pdf_core.train import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "last.pt", {"fingerprint": "aaaa", "model": {}})
    with pytest.raises(ValueError, match="different model config"):
        load_checkpoint(tmp_path / "last.pt", "bbbb")
