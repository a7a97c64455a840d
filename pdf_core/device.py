"""Which torch device a run uses (`train.device`: auto | cpu | cuda)."""

from __future__ import annotations

import torch


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is visible; use 'auto' or 'cpu'")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def place_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` on ``device``; on a GPU its conv weights in channels-last, the layout of the images it gets."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model
