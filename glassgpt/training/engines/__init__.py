"""Engines: what does the training step.  ``make_engine(cfg)`` picks one from ``train.engine``.

- ``torch``: the PyTorch GPT with autograd and ``torch.optim.AdamW``
- ``glass``: the NumPy GPT with hand-written gradients (``glassgpt.glass``)

Both implement ``base.Engine``.
"""

from __future__ import annotations

from ...config import RunConfig
from .base import Engine, StepResult, TorchRNG, split_micro_batches
from .glass_engine import GlassEngine
from .torch_engine import TorchEngine, decay_groups

ENGINES = {"torch": TorchEngine, "glass": GlassEngine}


def make_engine(cfg: RunConfig) -> Engine:
    """A fresh engine for the run configuration, its weights drawn from ``train.seed``."""
    return ENGINES[cfg.train.engine](cfg)


__all__ = ["ENGINES", "Engine", "GlassEngine", "StepResult", "TorchEngine", "TorchRNG", "decay_groups",
           "make_engine", "split_micro_batches"]
