"""The torch engine: a PyTorch model, its optimizers and its random streams; one training step at a time.

The model is the GPT, or a rung of the makemore ladder (``model.arch``; ``models.factory``):
every one maps (x, targets) to (logits, loss), so the step below is the same for all.

See ``base.Engine`` for the protocol the trainer uses.  The optimizers (AdamW, or AdamW +
Muon, with a learning rate per parameter role) are ``training.optim.Optimizers``.  Weight
decay applies to matrices (≥ 2-D: linear weights, embeddings) and never to biases or norm gains.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from ...config import RunConfig
from ...data.documents import document_positions
from ...device import pick_device
from ...evaluation import summed_nll
from ...models.factory import build
from ..layer_probe import make_probe
from ..optim import Optimizers, decays
from .base import StepResult, TorchRNG


def decay_groups(named_params) -> tuple[list, list]:
    """(decayed, not decayed) lists of (name, parameter): matrices decay, vectors do not."""
    decay, no_decay = [], []
    for name, p in named_params:
        if p.requires_grad:
            (decay if decays(p.dim()) else no_decay).append((name, p))
    return decay, no_decay


class TorchEngine:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        t = cfg.train
        self.device = pick_device(t.device)
        self.rng = TorchRNG(t.seed, self.device)
        with self.rng.active():
            self.model = build(cfg.model).to(self.device)
        self.forward = torch.compile(self.model) if t.compile else self.model
        self.optimizer = Optimizers(self.model, t, self.device)

    def autocast(self):
        if self.cfg.train.dtype == "bfloat16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device, non_blocking=True)

    def train_step(self, micro_batches, lr: float, capture: bool = False) -> StepResult:
        """Accumulate gradients over the micro-batches (each loss divided by their number,
        so the gradient is that of the mean loss), clip, step.

        ``capture=True`` also watches this step with a ``diagnostics.Probe`` (hooks on the
        first micro-batch, raw gradients, the weights before and after the step), returned
        in the result.  Capturing only reads: the step's numbers and the random streams are
        the same as without it.  Off, it costs nothing."""
        self.model.train()
        self.optimizer.set_lr(lr)
        probe = make_probe(self.model) if capture else None
        n = len(micro_batches)
        total = torch.zeros((), device=self.device)
        with self.rng.active():
            for i, (x, y, *segments) in enumerate(micro_batches):
                watch = probe is not None and i == 0
                with self.autocast(), (probe.watch() if watch else contextlib.nullcontext()):
                    # hooks need the eager module: a compiled one would recompile for them
                    _, loss = (self.model if watch else self.forward)(self._tensor(x), self._tensor(y),
                                                                      **self._documents(*segments))
                (loss / n).backward()
                total += loss.detach() / n
        if probe is not None:
            probe.grads_ready()
        clip = self.cfg.train.grad_clip or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.optimizer.step()
        if probe is not None:
            probe.stepped()
        self.optimizer.zero_grad()
        return StepResult(float(total), float(norm), probe)

    def _documents(self, segments: np.ndarray | None = None) -> dict:
        """Model keywords for per-token document ids: attention within a document, positions from 0 in each."""
        if segments is None:
            return {}
        return {"segments": self._tensor(segments), "positions": self._tensor(document_positions(segments))}

    @torch.no_grad()
    def eval_sums(self, x: np.ndarray, y: np.ndarray, segments: np.ndarray | None = None) -> tuple[float, int]:
        self.model.eval()
        with self.autocast():
            logits, _ = self.forward(self._tensor(x), **self._documents(segments))
        return float(summed_nll(logits, self._tensor(y))), int((np.asarray(y) != -1).sum())

    def sampling_model(self) -> torch.nn.Module:
        return self.model

    def trained_names(self) -> list[str]:
        """The tensors the optimizer updates (not the buffers, such as BatchNorm's running statistics)."""
        return [n for n, p in self.model.named_parameters() if p.requires_grad]

    # ---- state in and out ---------------------------------------------------------------
    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {"model": self.model.weights(), "optimizer": self.optimizer.state_tensors(), "rng": self.rng.state()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        self.model.load_weights(state["model"])
        self.optimizer.load_state_tensors(state.get("optimizer", {}))
        self.rng.load_state(state.get("rng", {}))
