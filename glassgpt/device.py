"""Which device a model runs on: ``--device auto|cpu|cuda|mps`` (auto picks cuda > mps > cpu)."""

from __future__ import annotations

import torch

from .errors import ConfigError


def mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(name: str) -> torch.device:
    """The torch device for a ``train.device`` / ``--device`` setting, refusing one that is absent."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available; use --device cpu.")
    if name == "mps" and not mps_available():
        raise ConfigError("--device mps was asked for but MPS is not available; use --device cpu.")
    return torch.device(name)
