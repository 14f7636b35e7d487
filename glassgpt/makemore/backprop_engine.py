"""The glass engine for the makemore MLP: training on gradients written by hand.

``glassgpt train --model mlp --engine glass`` trains the ladder's MLP (with or without
BatchNorm) through ``glassgpt.makemore.backprop_fused.HandMLP``: NumPy forward passes and the
backward passes of ``glassgpt.glass`` (the fused cross-entropy, tanh, BatchNorm, linear and
embedding backward formulas that ``glassgpt gradcheck DIR`` proves one intermediate at a
time).  It stands in for the torch engine exactly as ``GlassEngine`` does for the GPT:

- the initial weights are the torch engine's (the same torch MLP is built from the same
  seeded stream, then copied), and the trainer feeds both engines the same batches, so the
  two runs' losses agree to float32 roundoff;
- each micro-batch's gradient is divided by their number and summed, clipped by the global
  norm (``train.grad_clip``), and one step of the glass SGD (``train.momentum``,
  ``train.weight_decay`` as the L2 term) or AdamW is taken at each parameter role's rate;
- BatchNorm's running statistics are updated in the forward pass, as torch does, and saved
  with the weights; the optimizer state is saved under the torch names, so a run can resume
  from one engine into the other.
"""

from __future__ import annotations

import numpy as np
import torch

from glassgpt.config import RunConfig
from glassgpt.glass import SGD, AdamW
from glassgpt.glass.cross_entropy import cross_entropy_sum
from glassgpt.makemore.backprop_fused import HandMLP
from glassgpt.makemore.models import MLP
from glassgpt.makemore.probe import LayerProbe
from glassgpt.models.factory import build, ladder_config
from glassgpt.training.engines.base import StepResult, TorchRNG
from glassgpt.training.engines.glass_engine import (
    clip_gradients,
    global_norm,
    probe_gradients,
    probe_update,
    step_by_role,
)
from glassgpt.training.optim import param_role, peak_rates


class GlassMLPEngine:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        t = cfg.train
        self.rng = TorchRNG(t.seed, torch.device("cpu"))
        with self.rng.active():  # the torch engine's initial weights
            weights = build(cfg.model).weights()
        self.model = HandMLP.from_weights(weights, bn_momentum=cfg.model.bn_momentum, dtype=np.float32)
        trained = self.model.trained()
        if t.optimizer == "sgd":
            self.optimizer = SGD(trained, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
        else:
            self.optimizer = AdamW(trained, lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps, weight_decay=t.weight_decay)
        self.rates = peak_rates(t)
        self.roles: dict[str, list[str]] = {}
        for name, a in trained.items():
            self.roles.setdefault(param_role(name, a.ndim), []).append(name)

    def train_step(self, micro_batches, lr: float, capture: bool = False) -> StepResult:
        n = len(micro_batches)
        probe = self._start_probe(micro_batches[0], n) if capture else None
        total, grads = 0.0, None
        for x, y, *_ in micro_batches:
            _, loss, cache = self.model.forward(np.asarray(x), np.asarray(y), training=True)
            g = self.model.backward(cache)
            total += float(loss) / n
            if grads is None:
                grads = {k: v / np.float32(n) if n > 1 else v for k, v in g.items()}
            else:
                for k, v in g.items():
                    grads[k] += v / np.float32(n)
        norm = global_norm(grads)
        if probe is not None:
            probe, replica = probe
            probe_gradients(probe, replica, grads)
        clip_gradients(grads, norm, self.cfg.train.grad_clip)
        step_by_role(self.optimizer, grads, self.roles, self.rates, lr, self.cfg.train.lr)
        if probe is not None:
            probe_update(probe, replica, self.model.params)
        return StepResult(total, norm, probe)

    def _start_probe(self, first_batch, n: int):
        """A torch replica of the current weights runs the first micro-batch under the probe's
        hooks (activations, the gradients reaching them); the probe then reads the hand-written
        gradients and the real update.  No random numbers are drawn."""
        replica = self.sampling_model().train()
        probe = LayerProbe(replica)
        x, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in first_batch[:2])
        with probe.watch():
            _, loss = replica(x, y)
            (loss / n).backward()
        return probe, replica

    def eval_sums(self, x: np.ndarray, y: np.ndarray, segments: np.ndarray | None = None) -> tuple[float, int]:
        logits, _, _ = self.model.forward(np.asarray(x), training=False)
        return cross_entropy_sum(logits, np.asarray(y)), int(len(y))

    def sampling_model(self) -> torch.nn.Module:
        """The torch MLP (eval mode) holding the current weights and running statistics."""
        model = MLP(ladder_config(self.cfg.model), torch.Generator().manual_seed(0))
        model.load_weights({k: torch.from_numpy(np.array(v)) for k, v in self.model.params.items()})
        return model.eval()

    def trained_names(self) -> list[str]:
        return list(self.model.trained())

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {
            "model": {k: torch.from_numpy(np.array(v)) for k, v in self.model.params.items()},
            "optimizer": {k: torch.from_numpy(np.array(v)) for k, v in self.optimizer.state_arrays().items()},
            "rng": self.rng.state(),
        }

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        own = self.model.params
        weights = state["model"]
        missing, extra = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
        if missing or extra:
            raise ValueError(f"the weights do not fit this model (missing {missing[:3]}, unexpected {extra[:3]})")
        for name, t in weights.items():
            a = t.detach().cpu().numpy()
            if a.shape != own[name].shape:
                raise ValueError(f"weight {name} has shape {a.shape} but the model expects {own[name].shape}")
            own[name][...] = a  # in place: the optimizer holds these very arrays
        if state.get("optimizer"):
            self.optimizer.load_state_arrays(state["optimizer"])
        self.rng.load_state(state.get("rng", {}))
