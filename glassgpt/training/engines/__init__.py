"""Engines: what does the training step.  ``make_engine(cfg)`` picks one from ``train.engine``
and ``model.arch``.

- ``torch``: a PyTorch model (the GPT, or a rung of the makemore ladder) with autograd and
  ``training.optim`` (AdamW, AdamW + Muon, or SGD)
- ``glass``: the NumPy GPT with hand-written gradients (``glassgpt.glass``), or for
  ``model.arch = "mlp"`` the makemore MLP backpropagated by hand (``GlassMLPEngine``)
- the counting bigram (``model.arch = "bigram"``) is trained by counting (``CountingEngine``)

All implement ``base.Engine``.  The torch engine is imported with this package; the others
are imported when a run asks for them (``make_engine``) or when their name is looked up here,
so a torch run never loads NumPy's GPT or the ladder's engines.
"""

from __future__ import annotations

from typing import Any

from glassgpt.config import RunConfig
from glassgpt.training.engines.base import Engine, StepResult, TorchRNG, split_micro_batches
from glassgpt.training.engines.torch_engine import TorchEngine, decay_groups


def make_engine(cfg: RunConfig) -> Engine:
    """A fresh engine for the run configuration, its weights drawn from ``train.seed``."""
    if cfg.model.arch == "bigram":
        from glassgpt.makemore.counting import CountingEngine

        return CountingEngine(cfg)
    if cfg.train.engine == "glass" and cfg.model.arch == "mlp":
        from glassgpt.makemore.backprop_engine import GlassMLPEngine

        return GlassMLPEngine(cfg)
    if cfg.train.engine == "glass":
        from glassgpt.training.engines.glass_engine import GlassEngine

        return GlassEngine(cfg)
    return TorchEngine(cfg)


def __getattr__(name: str) -> Any:
    """The engines imported on first use (``from glassgpt.training.engines import GlassEngine``)."""
    if name == "GlassEngine":
        from glassgpt.training.engines.glass_engine import GlassEngine

        return GlassEngine
    if name == "GlassMLPEngine":
        from glassgpt.makemore.backprop_engine import GlassMLPEngine

        return GlassMLPEngine
    if name == "CountingEngine":
        from glassgpt.makemore.counting import CountingEngine

        return CountingEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
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
