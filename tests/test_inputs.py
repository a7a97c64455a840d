"""SplitInputs: a micro-batch gathered from device-resident arrays equals the host path's."""

import numpy as np
import torch

from pdf_core.inputs import SplitInputs


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
