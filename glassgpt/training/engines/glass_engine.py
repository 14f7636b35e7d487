"""The glass engine: the ``Engine`` protocol done in NumPy with hand-written gradients.

``GlassEngine(cfg)`` stands in for ``TorchEngine`` (selected by ``train.engine = "glass"``):
the same methods, the same run directory, metrics and checkpoints, so a run can even resume
from one engine into the other.

- Initial weights: drawn exactly like the torch engine's (its own torch stream seeded with
  the run's seed builds the torch GPT, whose weights are copied), so with the same seed both
  engines start from the same numbers, and the trainer feeds them the same batches.
- ``train_step``: each micro-batch's loss divided by their number, gradients summed,
  global-norm clipping (``train.grad_clip``; 0 = off, the norm before clipping is returned),
  one AdamW step, at the peak rate of each parameter's role (``training.optim.groups``) scaled
  by the schedule.  Muon is torch-only (refused at config validation).
- State: weights and AdamW moments under the torch names; the RNG state holds the torch
  stream (as the torch engine saves it) and the glass dropout generator.

Both cores: NumPy runs its element-wise work and the attention's many small products on one
core, so with N training threads (the run's thread count, as torch would use) a micro-batch's
rows are cut into N parts that run forward and backward at the same time, one thread each
with single-threaded BLAS, and their gradients are summed in part order, each weighted by its
share of the counted targets.  The result equals the one-part gradient up to float32
rounding (``tests/glass/test_glass_cores.py``), and the same thread count gives the same bytes
every time, whatever the load.  With dropout, each part draws its masks from a generator
seeded from the engine's dropout generator, so a resume still continues the same masks.

Always NumPy on the CPU in float32: ``train.device`` and ``train.compile`` do not apply.
Building one raises glibc's malloc thresholds for the process (``glass/heap.py``), so the
memory a step frees is not faulted back in by the next.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from glassgpt.config import RunConfig
from glassgpt.errors import ConfigError
from glassgpt.glass import GPT, AdamW
from glassgpt.glass.heap import keep_freed_memory
from glassgpt.models import GPT as TorchGPT
from glassgpt.threads import blas_threads
from glassgpt.training.diagnostics import Probe
from glassgpt.training.engines.base import StepResult, TorchRNG
from glassgpt.training.engines.row_parts import PartThreads, even_groups, row_parts
from glassgpt.training.optim import param_role, peak_rates, scaled_rate

DROPOUT_RNG = "glass_dropout"


class GlassEngine:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        t = cfg.train
        if t.dtype != "float32":
            raise ConfigError(
                f"the glass engine computes in float32 only; drop train.dtype={t.dtype} or use --engine torch."
            )
        keep_freed_memory()  # every step allocates afresh: keep freed pages for the next one (glass/heap.py)
        self.torch_rng = TorchRNG(t.seed, torch.device("cpu"))
        with self.torch_rng.active():  # same initial weights as TorchEngine with the same seed
            self.model = GPT.from_torch(TorchGPT(cfg.model), dtype=np.float32)
        self.optimizer = AdamW(
            self.model.params, lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps, weight_decay=t.weight_decay
        )
        self.rng = np.random.Generator(np.random.PCG64(t.seed))  # dropout masks
        self.rates = peak_rates(t)
        self.roles: dict[str, list[str]] = {}
        for name, a in self.model.params.items():
            self.roles.setdefault(param_role(name, a.ndim), []).append(name)
        self.part_threads = PartThreads()  # the other cores' threads (loss_and_grads)
        self.splits_rows = True  # one row part per training thread (threads.plan_threads reads it)

    # ---- training ---------------------------------------------------------------------------
    def train_step(self, micro_batches, lr: float, capture: bool = False) -> StepResult:
        """Accumulate the gradient of the mean loss over the micro-batches, clip it, take one
        AdamW step.

        ``capture=True`` also returns a ``diagnostics.Probe`` of this step, as the torch engine
        does (see ``_start_probe``)."""
        if any(len(batch) > 2 for batch in micro_batches):
            raise ConfigError("the glass engine has no document masking (segments); use --engine torch.")
        probe = None
        n = len(micro_batches)
        watched = self._start_probe(micro_batches[0], n) if capture else None
        total, grads = 0.0, None
        for x, y in micro_batches:
            loss, g = self.loss_and_grads(np.asarray(x), np.asarray(y), dloss=1.0 / n)
            total += loss / n
            if grads is None:
                grads = g
            else:
                for name, gi in g.items():
                    grads[name] += gi
        norm = global_norm(grads)
        if watched is not None:
            probe, replica = watched
            probe_gradients(probe, replica, grads)
        clip_gradients(grads, norm, self.cfg.train.grad_clip)
        names = sorted(grads)
        groups = even_groups([grads[k].size for k in names], torch.get_num_threads())
        self.part_threads.run(self._step, [({names[i]: grads[names[i]] for i in g}, lr) for g in groups])
        if watched is not None:
            probe_update(probe, replica, self.model.params)
        return StepResult(total, norm, probe)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, dloss: float) -> tuple[float, dict[str, np.ndarray]]:
        """The mean loss of one micro-batch and the gradients of ``dloss`` times it, its rows
        split over the training threads (``row_parts``, see the module docstring); one thread:
        the model's ``loss_and_grads`` as it is."""
        parts = row_parts(y, min(torch.get_num_threads(), len(x)))
        if len(parts) < 2:
            loss, grads = self.model.loss_and_grads(x, y, training=True, rng=self.rng, dloss=dloss)
            return float(loss), grads
        if self.model.config.dropout > 0:  # one generator per part, seeded from the engine's: no race for one stream
            rngs = [np.random.Generator(np.random.PCG64(s)) for s in self.rng.integers(2**63, size=len(parts))]
        else:
            rngs = [self.rng] * len(parts)
        jobs = [(x[a:b], y[a:b], True, rng, dloss * share) for (a, b, share), rng in zip(parts, rngs)]
        with blas_threads(1):  # one core each: threaded BLAS called from two threads at once runs slower
            results = self.part_threads.run(self.model.loss_and_grads, jobs)
        loss, grads = 0.0, results[0][1]
        for (_, _, share), (part_loss, part_grads) in zip(parts, results):
            loss += float(part_loss) * share if share else 0.0
            if part_grads is not grads:
                for name, g in part_grads.items():
                    grads[name] += g
        return loss, grads

    def _step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """One AdamW step of the parameters in ``grads`` (each parameter's update is its own,
        so groups of them step on different cores and give the same numbers)."""
        if len(set(self.rates.values())) == 1:
            self.optimizer.step(grads, scaled_rate(self.rates["embed"], lr, self.cfg.train.lr))
        else:
            step_by_role(self.optimizer, grads, self.roles, self.rates, lr, self.cfg.train.lr)

    def _start_probe(self, first_batch, n: int):
        """Diagnostics for one step, in the exact record format of the torch engine: a torch
        replica of the current weights runs the first micro-batch under ``Probe.watch()``
        (activations, attention entropy, activation-gradient histograms); the probe then
        reads the GLASS gradients and the GLASS update.  The replica's forward runs on a
        forked copy of the engine's torch stream, so the random state is the same with or
        without capture."""
        replica = self.model.to_torch().train()
        probe = Probe(replica)
        x, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in first_batch)
        with torch.random.fork_rng(devices=[]), probe.watch():
            torch.set_rng_state(self.torch_rng.cpu.get_state())
            _, loss = replica(x, y)
            (loss / n).backward()
        return probe, replica

    def eval_sums(self, x: np.ndarray, y: np.ndarray, segments: np.ndarray | None = None) -> tuple[float, int]:
        """Sum of per-token losses (nats) and the number of counted targets (y != -1), dropout off."""
        if segments is not None:
            raise ConfigError("the glass engine has no document masking (segments); use --engine torch.")
        return self.model.nll_sum(np.asarray(x), np.asarray(y)), int((np.asarray(y) != -1).sum())

    def sampling_model(self) -> torch.nn.Module:
        """A torch GPT (eval mode, CPU) with the current weights."""
        return self.model.to_torch()

    def trained_names(self) -> list[str]:
        return list(self.model.params)

    # ---- state in and out (torch tensors, for safetensors) ------------------------------------
    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """Weights and AdamW moments under the torch names; the RNG part holds the torch stream
        (so the torch engine can resume this run) and the dropout generator's state as UTF-8
        JSON bytes."""
        dropout = json.dumps(self.rng.bit_generator.state).encode("utf-8")
        return {
            "model": {name: torch.from_numpy(a.copy()) for name, a in self.model.params.items()},
            "optimizer": {
                k: torch.from_numpy(np.array(a, copy=True)) for k, a in self.optimizer.state_arrays().items()
            },
            "rng": {**self.torch_rng.state(), DROPOUT_RNG: torch.frombuffer(bytearray(dropout), dtype=torch.uint8)},
        }

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        self.model.load_weights(state["model"])
        if state.get("optimizer"):
            self.optimizer.load_state_arrays(state["optimizer"])
        rng = state.get("rng", {})
        self.torch_rng.load_state(rng)
        if DROPOUT_RNG in rng:  # absent when resuming a torch-engine run: keep the seeded generator
            self.rng.bit_generator.state = json.loads(bytes(rng[DROPOUT_RNG].tolist()).decode("utf-8"))


def clip_gradients(grads: dict[str, np.ndarray], norm: float, clip: float) -> None:
    """Scale the gradients in place to global norm ``clip`` when ``norm`` exceeds it (0: off),
    as ``torch.nn.utils.clip_grad_norm_``."""
    coef = clip / (norm + 1e-6)
    if clip > 0 and coef < 1.0:
        for g in grads.values():
            g *= np.float32(coef)


def step_by_role(
    optimizer,
    grads: dict[str, np.ndarray],
    roles: dict[str, list[str]],
    rates: dict[str, float],
    lr: float,
    base: float,
) -> None:
    """One optimizer step at each parameter role's rate: the optimizers skip the parameters
    without a gradient, so one call per role sets each rate."""
    for role, names in roles.items():
        optimizer.step({n: grads[n] for n in names if n in grads}, scaled_rate(rates[role], lr, base))


def probe_gradients(probe, replica: torch.nn.Module, grads: dict[str, np.ndarray]) -> None:
    """Hand the hand-written gradients to a diagnostics probe through its torch replica."""
    for name, p in replica.named_parameters():
        p.grad = torch.from_numpy(grads[name].copy())
    probe.grads_ready()


def probe_update(probe, replica: torch.nn.Module, params: dict[str, np.ndarray]) -> None:
    """Copy the stepped weights into the replica so the probe sees the step's real update."""
    with torch.no_grad():
        for name, p in replica.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
    probe.stepped()


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """sqrt of the sum of squares of every gradient entry (each tensor's sum in its dtype, the total in float64)."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
