"""What the trainer asks of an engine, and the random streams an engine owns.

An engine owns a model, its optimizer and its random-number generators, and does one
training step at a time.  The trainer talks to it only through the ``Engine`` protocol, so
the PyTorch engine and the NumPy glass engine share one run directory, one metrics file and
one checkpoint format, and a run can resume from one engine into the other.

``state_dict()`` returns ``{"model": ..., "optimizer": ..., "rng": ...}``, each a flat dict
of CPU tensors for safetensors.  Optimizer state is stored by parameter name
(``<name>.exp_avg``, ``<name>.exp_avg_sq``, ``<name>.step``), the same for every engine.

No global state: an engine draws its initial weights and dropout masks from its own
generators (``TorchRNG``), which is what a checkpoint stores, and leaves torch's global
generators as it found them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from glassgpt.training.diagnostics import Probe  # the GPT's probe; a ladder model's LayerProbe has the same methods

#: the name under which a checkpoint stores an engine's CPU torch stream (and its GPU stream)
TORCH_CPU, TORCH_CUDA = "torch_cpu", "torch_cuda"


@dataclass
class StepResult:
    """One optimizer step: the mean loss over its micro-batches, the global gradient norm
    before clipping, the diagnostics probe when the step was captured, and the objective's
    extra figures (a reward model's pair accuracy, RL's reward and KL …; none for the
    language model), which the trainer records beside the loss."""

    loss: float
    grad_norm: float
    probe: Probe | None = None
    metrics: dict[str, float] = field(default_factory=dict)


class Engine(Protocol):
    def train_step(self, micro_batches: list[tuple[np.ndarray, ...]], lr: float, capture: bool = False) -> StepResult:
        """Accumulate the gradient of the mean loss over the micro-batches (x, y[, segments];
        targets of -1 are ignored), clip, step."""

    def eval_sums(self, x: np.ndarray, y: np.ndarray, segments: np.ndarray | None = None) -> tuple[float, int]:
        """Sum of per-token losses (nats) over the batch and the number of counted targets
        (y != -1), dropout off; ``segments``: per-token document ids (see ``train_step``)."""

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """``{"model", "optimizer", "rng"}``: everything an exact resume needs."""

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        """Restore what ``state_dict`` returned (the ``optimizer`` and ``rng`` parts may be empty)."""

    def sampling_model(self) -> torch.nn.Module:
        """A torch model with the current weights, for generation (eval mode)."""

    def trained_names(self) -> list[str]:
        """Names (of ``state_dict()["model"]``) of the tensors the optimizer updates."""


class TorchRNG:
    """An engine's own torch random streams: one CPU generator, plus the GPU's when the engine
    trains on CUDA, seeded from the run's seed.

    Dropout inside torch kernels draws from torch's *global* generators, so ``active()`` swaps
    the engine's streams in for the duration of a block and the globals back afterwards: the
    engine's numbers advance, the process-wide ones do not."""

    def __init__(self, seed: int, device: torch.device):
        self.device = device
        self.cpu = torch.Generator().manual_seed(seed)
        self.cuda = torch.Generator(device=device).manual_seed(seed) if device.type == "cuda" else None

    @contextlib.contextmanager
    def active(self):
        cuda_devices = [self.device] if self.cuda is not None else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.set_rng_state(self.cpu.get_state())
            if self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda.get_state(), self.device)
            try:
                yield
            finally:
                self.cpu.set_state(torch.get_rng_state())
                if self.cuda is not None:
                    self.cuda.set_state(torch.cuda.get_rng_state(self.device))

    def state(self) -> dict[str, torch.Tensor]:
        out = {TORCH_CPU: self.cpu.get_state()}
        if self.cuda is not None:
            out[TORCH_CUDA] = self.cuda.get_state()
        return out

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        if TORCH_CPU in tensors:
            self.cpu.set_state(tensors[TORCH_CPU])
        if self.cuda is not None and TORCH_CUDA in tensors:
            self.cuda.set_state(tensors[TORCH_CUDA])


def split_micro_batches(*arrays_then_size) -> list[tuple[np.ndarray, ...]]:
    """``split_micro_batches(x, y, [segments,] batch_size)``: cut one step's arrays into
    micro-batches of ``batch_size`` rows, each a tuple (x, y[, segments])."""
    *arrays, batch_size = arrays_then_size
    return [tuple(a[i : i + batch_size] for a in arrays) for i in range(0, len(arrays[0]), batch_size)]
