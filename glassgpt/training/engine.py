"""The torch engine: one object that owns the model and optimizer and does a training step.

The trainer talks to an engine only through these methods, so the NumPy glass engine
can stand in for it with the same run directory, metrics and checkpoints:

``train_step(micro_batches, lr) -> (loss, grad_norm)``, ``eval_sums(x, y) -> (nll_sum, n)``,
``weights()``/``load_weights()``, ``optimizer_state()``/``load_optimizer_state()``,
``rng_state()``/``set_rng_state()``.

Optimizer state is stored by parameter name (``<name>.exp_avg``, ``<name>.exp_avg_sq``,
``<name>.step``), the same for every engine.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..config import RunConfig
from ..models import GPT


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        from ..errors import ConfigError

        raise ConfigError("--device cuda was asked for but no CUDA GPU is available; use --device cpu.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        from ..errors import ConfigError

        raise ConfigError("--device mps was asked for but MPS is not available; use --device cpu.")
    return torch.device(name)


def decay_groups(named_params) -> tuple[list, list]:
    """Weight decay applies to matrices (≥ 2-D: linear weights, embeddings), never to
    biases or LayerNorm gains."""
    decay, no_decay = [], []
    for name, p in named_params:
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append((name, p))
    return decay, no_decay


class TorchEngine:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        t = cfg.train
        self.device = pick_device(t.device)
        torch.manual_seed(t.seed)
        self.model = GPT(cfg.model).to(self.device)
        self.forward = torch.compile(self.model) if t.compile else self.model
        decay, no_decay = decay_groups(self.model.named_parameters())
        self.param_names = {id(p): n for n, p in decay + no_decay}
        self.optimizer = torch.optim.AdamW(
            [{"params": [p for _, p in decay], "weight_decay": t.weight_decay},
             {"params": [p for _, p in no_decay], "weight_decay": 0.0}],
            lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps,
            fused=self.device.type == "cuda",
        )

    def autocast(self):
        if self.cfg.train.dtype == "bfloat16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device, non_blocking=True)

    def train_step(self, micro_batches, lr: float, capture: bool = False) -> tuple[float, float]:
        """Accumulate gradients over the micro-batches (each loss divided by their number,
        so the gradient is that of the mean loss), clip, step.  Returns the mean loss and
        the global gradient norm before clipping.

        ``capture=True`` also watches this step with a ``diagnostics.Probe`` (hooks on the
        first micro-batch, raw gradients, the weights before and after the step), left in
        ``self.probe`` for the trainer.  Capturing only reads: the step's numbers and the
        random-number streams are the same as without it.  Off, it costs nothing."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        probe = None
        if capture:
            from .diagnostics import Probe

            probe = Probe(self.model)
        n = len(micro_batches)
        total = torch.zeros((), device=self.device)
        for i, (x, y) in enumerate(micro_batches):
            watch = probe is not None and i == 0
            with self.autocast(), (probe.watch() if watch else contextlib.nullcontext()):
                # hooks need the eager module: a compiled one would recompile for them
                _, loss = (self.model if watch else self.forward)(self._tensor(x), self._tensor(y))
            (loss / n).backward()
            total += loss.detach() / n
        if probe is not None:
            probe.grads_ready()
        clip = self.cfg.train.grad_clip or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.optimizer.step()
        if probe is not None:
            probe.stepped()
        self.probe = probe
        self.optimizer.zero_grad(set_to_none=True)
        return float(total), float(norm)

    @torch.no_grad()
    def eval_sums(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """Sum of per-token losses (nats) and the number of tokens, in eval mode."""
        self.model.eval()
        with self.autocast():
            logits, _ = self.forward(self._tensor(x))
        loss = torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)), self._tensor(y).reshape(-1), reduction="sum")
        return float(loss), int(y.size)

    # ---- state in and out ---------------------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        return self.model.weights()

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        self.model.load_weights(tensors)

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        out = {}
        for p, state in self.optimizer.state.items():
            name = self.param_names[id(p)]
            for key in ("exp_avg", "exp_avg_sq", "step"):
                out[f"{name}.{key}"] = torch.as_tensor(state[key]).detach().reshape(-1 if key == "step" else state[key].shape)
        return out

    def load_optimizer_state(self, tensors: dict[str, torch.Tensor]) -> None:
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                name = self.param_names[id(p)]
                if f"{name}.exp_avg" not in tensors:
                    continue
                self.optimizer.state[p] = {
                    "step": tensors[f"{name}.step"].reshape(()).to(self._step_device, torch.float32).clone(),
                    "exp_avg": tensors[f"{name}.exp_avg"].to(self.device, p.dtype).clone(),
                    "exp_avg_sq": tensors[f"{name}.exp_avg_sq"].to(self.device, p.dtype).clone(),
                }

    @property
    def _step_device(self) -> torch.device:
        # the fused CUDA AdamW keeps its step counter on the GPU, the plain one on the CPU
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def rng_state(self) -> dict[str, torch.Tensor]:
        out = {"torch_cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            out["torch_cuda"] = torch.cuda.get_rng_state(self.device)
        return out

    def set_rng_state(self, tensors: dict[str, torch.Tensor]) -> None:
        torch.set_rng_state(tensors["torch_cpu"])
        if self.device.type == "cuda" and "torch_cuda" in tensors:
            torch.cuda.set_rng_state(tensors["torch_cuda"], self.device)
