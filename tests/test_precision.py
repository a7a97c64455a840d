"""The fast path (bf16 autocast) against fp32: mean dev accuracies within one std over 3 seeds (CPU)."""

import dataclasses

import numpy as np
import pytest
import yaml

from pdf_core.config import dataset_config
from pdf_core.inputs import frozen_inputs
from pdf_core.settings import run_settings
from pdf_core.train import train_run
from tests.test_resume import _make_caches

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["latefusion", "qmf"])
def test_bf16_matches_fp32_within_one_std(tmp_path, model):
    _make_caches(tmp_path)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    ds = dataset_config(params, "toy")
    train = frozen_inputs(tmp_path / "data/features/toy/frozen/train.npz")
    dev = frozen_inputs(tmp_path / "data/features/toy/frozen/dev.npz")
    accs = {}
    for precision in ("fp32", "bf16"):
        hp = dataclasses.replace(run_settings(params, model, "toy"), precision=precision, max_epochs=6)
        accs[precision] = [
            train_run(
                model,
                hp,
                ds,
                params["features"],
                4,
                seed,
                train,
                dev,
                tmp_path / f"runs/{precision}/{seed}",
                tmp_path / f"dvclive/{precision}/{seed}",
            )["best_dev_acc"]
            for seed in (1, 2, 3)
        ]
    fp32, bf16 = np.array(accs["fp32"]), np.array(accs["bf16"])
    assert abs(fp32.mean() - bf16.mean()) <= max(fp32.std(ddof=1), bf16.std(ddof=1), 0.01), accs
