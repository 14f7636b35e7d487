"""Engines: what does the training step.  ``make_engine(cfg)`` picks one from ``train.engine``
and ``model.arch``.

- ``torch``: a PyTorch model (the GPT, or a rung of the makemore ladder) with autograd and
  ``training.optim`` (AdamW, AdamW + Muon, or SGD)
- ``glass``: the NumPy GPT with hand-written gradients (``glassgpt.glass``), or for
  ``model.arch = "mlp"`` the makemore MLP backpropagated by hand (``GlassMLPEngine``)
- the counting bigram (``model.arch = "bigram"``) is trained by counting (``CountingEngine``)

All implement ``base.Engine``.
"""

from __future__ import annotations

from glassgpt.config import RunConfig
from glassgpt.makemore.backprop_engine import GlassMLPEngine
from glassgpt.makemore.counting import CountingEngine
from glassgpt.training.engines.base import Engine, StepResult, TorchRNG, split_micro_batches
from glassgpt.training.engines.glass_engine import GlassEngine
from glassgpt.training.engines.torch_engine import TorchEngine, decay_groups

ENGINES = {"torch": TorchEngine, "glass": GlassEngine}


def make_engine(cfg: RunConfig) -> Engine:
    """A fresh engine for the run configuration, its weights drawn from ``train.seed``."""
    if cfg.model.arch == "bigram":
        return CountingEngine(cfg)
    if cfg.train.engine == "glass" and cfg.model.arch == "mlp":
        return GlassMLPEngine(cfg)
    return ENGINES[cfg.train.engine](cfg)


__all__ = [
    "ENGINES",
    "CountingEngine",
    "Engine",
    "GlassEngine",
    "GlassMLPEngine",
    "StepResult",
    "TorchEngine",
    "TorchRNG",
    "decay_groups",
    "make_engine",
    "split_micro_batches",
]
