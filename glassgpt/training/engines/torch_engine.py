"""The torch engine: a PyTorch model, its optimizers and its random streams; one training step at a time.

The model is the GPT, or a rung of the makemore ladder (``model.arch``; ``models.factory``):
every one maps (x, targets) to (logits, loss), so the step below is the same for all.  What
the step minimises is the run's objective (``training.objectives``: the language model's
cross-entropy, or after fine-tuning Bradley–Terry, DPO or the policy gradient), which also
says what extra figures a step reports (``StepResult.metrics``).

See ``base.Engine`` for the protocol the trainer uses.  The optimizers (AdamW, or AdamW +
Muon, with a learning rate per parameter role) are ``training.optim.Optimizers``.  Weight
decay applies to matrices (≥ 2-D: linear weights, embeddings) and never to biases or norm gains.

Under torchrun the trainer calls ``distribute(world, mode)`` on every rank at once: the model
is then wrapped for DDP or sharded with FSDP2 (``training.parallel``), and each step reduces
gradients only after its last micro-batch.  bf16 autocast, TF32, ``torch.compile`` and flash
attention follow ``training.speed`` (CUDA; bf16 also on a CPU with native bfloat16).

On the CPU, a GPT trained on the language-model objective without dropout runs each
micro-batch's rows in one part per training thread (``row_parts``): every part a whole
forward and backward on one core, single-threaded, its gradients (``torch.autograd.grad``)
summed into the parameters' in part order.  That is faster than torch's own threads on a
quiet machine and keeps far more of its speed on a busy one (no parallel region waits for a
parked thread); the sum is the same whatever the load, so a run still reproduces its bytes at
its thread count.  Other runs (dropout, other objectives, the ladder's models, several
processes, a GPU, ``torch.compile``) use torch's threads inside each operation.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import torch

from glassgpt.config import RunConfig
from glassgpt.device import pick_device
from glassgpt.makemore.probe import make_probe
from glassgpt.models.factory import build
from glassgpt.parallel.data_parallel import Local, wrap
from glassgpt.parallel.world import World, device_for
from glassgpt.training.engines.base import StepResult, TorchRNG
from glassgpt.training.engines.row_parts import PartThreads, even_groups, row_parts
from glassgpt.training.objectives import LanguageModel, make_objective
from glassgpt.training.optim import Optimizers, decays
from glassgpt.training.speed import plan_speed


def decay_groups(named_params) -> tuple[list, list]:
    """(decayed, not decayed) lists of (name, parameter): matrices decay, vectors do not."""
    decay, no_decay = [], []
    for name, p in named_params:
        if p.requires_grad:
            (decay if decays(p.dim()) else no_decay).append((name, p))
    return decay, no_decay


def run_updates(updates) -> None:
    """Call each of the optimizer's ``updates`` on this thread, single-threaded (a helper
    thread of ``PartThreads`` reads its own torch thread count)."""
    torch.set_num_threads(1)
    for update in updates:
        update()


class TorchEngine:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        t = cfg.train
        self.device = device_for(pick_device(t.device))
        self.speed = plan_speed(t, self.device, t.doc_mask)
        self.rng = TorchRNG(t.seed, self.device)
        with self.rng.active():
            self.model = build(cfg.model).to(self.device)
        self.parallel = Local(self.model)
        self.optimizer = Optimizers(self.model, t, self.device, bf16=self.speed.bf16)
        self.objective = make_objective(cfg)
        m = cfg.model
        self.splits_rows = (  # see the module docstring
            self.device.type == "cpu"
            and m.arch == "gpt"
            and m.ensemble == 1
            and m.dropout == 0
            and m.attention_dropout == 0
            and isinstance(self.objective, LanguageModel)
            and not self.speed.compile
        )
        self.part_threads = PartThreads()
        self._compile()

    def _compile(self) -> None:
        module = self.parallel.module
        self.forward = torch.compile(module) if self.speed.compile else module

    def distribute(self, world: World, mode: str) -> None:
        """Wrap the model for ``mode`` ("ddp" or "fsdp"); every rank calls it at the same point,
        with the same weights.  FSDP replaces the parameters by their shards, so the optimizer
        is rebuilt and its state (whole tensors) put back as shards."""
        state = self.state_dict() if mode == "fsdp" else None
        self.parallel = wrap(self.model, mode, world)
        self.splits_rows = False  # the wrapper reduces gradients in its backward hooks
        if state is not None:
            self.optimizer = Optimizers(self.model, self.cfg.train, self.device, bf16=self.speed.bf16)
            self.load_state_dict(state)
        self._compile()

    def reseed(self, seed: int) -> None:
        """Fresh random streams from ``seed`` (another rank's dropout masks)."""
        self.rng = TorchRNG(seed, self.device)

    @property
    def collective(self) -> bool:
        """Whether ``state_dict``, ``eval_sums`` and ``sampling_model`` need every rank (FSDP)."""
        return self.parallel.sharded

    def autocast(self):
        if self.speed.bf16:
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
        threads = torch.get_num_threads()
        if self.splits_rows and threads > 1 and len(micro_batches[0][0]) > 1:
            return self._train_step_in_parts(micro_batches, threads, probe)
        n = len(micro_batches)
        total = torch.zeros((), device=self.device)
        figures, start = [], time.perf_counter()
        with self.rng.active(), self.speed.active():
            for i, batch in enumerate(micro_batches):
                watch = probe is not None and i == 0
                # entered before the forward pass: only the last micro-batch reduces gradients
                with self.parallel.sync(last=i == n - 1):
                    with self.autocast(), probe.watch() if watch else contextlib.nullcontext():
                        # hooks need the eager module: a compiled one would recompile for them
                        model = self.parallel.module if watch else self.forward
                        loss, step_figures = self.objective.loss(model, *map(self._tensor, batch))
                    (loss / n).backward()
                total += loss.detach() / n
                figures.append(step_figures)
        return self._finish_step(float(total), probe, self.objective.summary(figures, time.perf_counter() - start))

    def _finish_step(self, loss: float, probe, metrics: dict, threads: int = 1) -> StepResult:
        """Clip the summed gradients, step, clear them.  With ``threads`` > 1 (row parts) the
        optimizer's updates are spread over that many single-threaded cores in groups of
        about equal work; each parameter's update stays whole on one core, so the bytes are
        the same as on one."""
        if probe is not None:
            probe.grads_ready()
        clip = self.cfg.train.grad_clip or float("inf")
        norm = self.parallel.norm(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        if threads > 1:
            updates = self.optimizer.updates()
            groups = even_groups([cost for cost, _ in updates], threads)
            self.part_threads.run(run_updates, [([updates[i][1] for i in group],) for group in groups])
        else:
            self.optimizer.step()
        if probe is not None:
            probe.stepped()
        self.optimizer.zero_grad()
        return StepResult(self.parallel.mean(loss), norm, probe, metrics)

    def _train_step_in_parts(self, micro_batches, threads: int, probe) -> StepResult:
        """``train_step`` with each micro-batch's rows in ``threads`` parts, one core each (see
        the module docstring).  A captured step runs its parts one after another on this
        thread, the probe watching the first part of the first micro-batch: the same numbers."""
        n = len(micro_batches)
        trained = [p for p in self.model.parameters() if p.requires_grad]
        sums: list[torch.Tensor | None] = [None] * len(trained)
        total = 0.0

        def part(batch, weight: float, watch: bool):
            torch.set_num_threads(1)  # this thread's own count (a helper thread reads it at its first operation)
            with self.autocast(), probe.watch() if watch else contextlib.nullcontext():
                loss, _ = self.objective.loss(self.model, *batch)
            return float(loss.detach()), torch.autograd.grad(loss * weight, trained, allow_unused=True)

        try:
            with self.rng.active(), self.speed.active():
                for i, batch in enumerate(micro_batches):
                    tensors = [self._tensor(a) for a in batch if a is not None]
                    parts = row_parts(batch[1], min(threads, len(tensors[0])))
                    if not parts:  # no counted target: the whole micro-batch, as one part
                        parts = [(0, len(tensors[0]), 1.0)]
                    jobs = [
                        ([t[a:b] for t in tensors], share / n, probe is not None and i == 0 and k == 0)
                        for k, (a, b, share) in enumerate(parts)
                    ]
                    results = [part(*job) for job in jobs] if probe else self.part_threads.run(part, jobs)
                    for (_, _, share), (loss, grads) in zip(parts, results):
                        total += loss * share / n if share else 0.0
                        for j, g in enumerate(grads):
                            if g is not None:
                                sums[j] = g if sums[j] is None else sums[j] + g
            for p, g in zip(trained, sums):
                p.grad = g
            # clipping on this one thread too, the optimizer's updates in one group per thread: a
            # parallel region of two threads waits for the one the scheduler parked, which on a
            # busy machine costs most of a step
            return self._finish_step(total, probe, {}, threads=threads)
        finally:
            torch.set_num_threads(threads)

    @torch.no_grad()
    def eval_sums(self, *batch: np.ndarray) -> tuple[float, int]:
        """The objective's summed loss and count over one evaluation batch (x, y[, segments] for the
        language model), dropout off."""
        self.model.eval()
        with self.speed.active(), self.autocast():
            return self.objective.sums(self.forward, *(self._tensor(a) for a in batch if a is not None))

    def sampling_model(self) -> torch.nn.Module:
        """The model itself; under FSDP a whole copy gathered from the shards (every rank
        must call it then)."""
        if not self.parallel.sharded:
            return self.model
        model = build(self.cfg.model).to(self.device)
        model.load_weights(self.state_dict()["model"])
        return model.eval()

    def trained_names(self) -> list[str]:
        """The tensors the optimizer updates (not the buffers, such as BatchNorm's running statistics)."""
        return [n for n, p in self.model.named_parameters() if p.requires_grad]

    # ---- state in and out (whole tensors, also under FSDP) -------------------------------
    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        full = self.parallel.full
        return {
            "model": {k: full(v) for k, v in self.model.weights().items()},
            "optimizer": {k: full(v) for k, v in self.optimizer.state_tensors().items()},
            "rng": self.rng.state(),
        }

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        mine = self.model.weights()
        self.model.load_weights(
            {k: self.parallel.local(v, mine[k]) if k in mine else v for k, v in state["model"].items()}
        )
        params = dict(self.model.named_parameters())
        optim = {}
        for key, t in state.get("optimizer", {}).items():
            name, part = key.rsplit(".", 1)
            optim[key] = self.parallel.local(t, params[name]) if part != "step" and name in params else t
        self.optimizer.load_state_tensors(optim)
        self.rng.load_state(state.get("rng", {}))
