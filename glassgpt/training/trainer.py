"""The training loop: batches → engine steps → metrics, estimates, checkpoints, then the final
evaluation and samples.

Everything before the first step happened elsewhere: the configuration was resolved,
derived, validated and frozen (``glassgpt.config``), the data opened (``data.open``: a
``DataSource``), the engine built, the run directory written or reopened and a checkpoint
restored (``training.launch``).  So the loop reads top to bottom:

    while step < max_steps:
        lr     = schedule(step)                       # or the share of the time budget spent
        batch  = batches.next(batch_size × grad_accum)
        result = engine.train_step(micro_batches(batch), lr)   # forward, backward, clip, step
        log metrics; every eval_every steps an estimate on fixed batches
        every save_every steps a checkpoint; stop on Ctrl-C, SIGTERM, SIGUSR1 or the budget
    save; final evaluation (every target of the held-out data); samples; summary.json

Under torchrun every rank runs this loop on its share of the batches; rank 0 alone writes
(``RunWriter``), and the ranks agree once per step on whether to stop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from glassgpt.config import RunConfig
from glassgpt.config.validate import parallel_mode
from glassgpt.data.source import DataSource, EvalSet, measure
from glassgpt.device import pick_device
from glassgpt.parallel.ranks import RankShare, gather_state
from glassgpt.parallel.world import World
from glassgpt.progress import TrainingBar as Progress
from glassgpt.progress import duration, message
from glassgpt.rundir.layout import DIAGNOSTICS, SAMPLES
from glassgpt.rundir.loss_names import named
from glassgpt.rundir.writer import RunWriter
from glassgpt.threads import LoadFollower, plan_threads, thread_scope, training_threads
from glassgpt.training.budget import Budget
from glassgpt.training.callbacks import Callbacks, Listener, RunStart
from glassgpt.training.engines.base import Engine, split_micro_batches
from glassgpt.training.flops import Throughput
from glassgpt.training.header import header_lines, plan_warnings, scale_lines
from glassgpt.training.result import Start, TrainResult
from glassgpt.training.schedule import learning_rate
from glassgpt.training.stopping import StopSignals, Terminated, stop_agreement


class Trainer:
    """One run's loop (see the module docstring).  ``cfg`` is frozen: nothing here changes it."""

    def __init__(
        self,
        cfg: RunConfig,
        source: DataSource,
        engine: Engine,
        batches: Any,
        writer: RunWriter,
        world: World,
        start: Start | None = None,
        progress: bool = True,
        callbacks: Sequence[Listener] = (),
    ):
        self.cfg, self.source, self.engine, self.batches = cfg, source, engine, batches
        self.writer, self.world = writer, world
        self.listen(callbacks)
        start = start or Start()
        self.step, self.tokens, self.elapsed, self.resumed = start.step, start.tokens, start.elapsed, start.resumed
        self.progress = progress and world.is_main
        self.mode = parallel_mode(cfg, world.size)
        self.device = pick_device(cfg.train.device) if cfg.train.engine == "torch" else torch.device("cpu")
        self.agree = stop_agreement(world) if self.mode != "none" else None
        #: a resumed run's checkpoint (trainer state, RNG streams), for the other ranks to receive
        self.restored: tuple[dict, dict] | None = None

    def listen(self, callbacks: Sequence[Listener]) -> None:
        """Tell ``callbacks`` (``training.callbacks``) about the run; only the writing rank has listeners."""
        self.callbacks = Callbacks(callbacks if self.world.is_main else ())

    def close(self) -> None:
        """Release the run directory's writer lock without training (``run()`` does it when it returns)."""
        self.writer.close()

    def run(self) -> TrainResult:
        """Train until ``max_steps``, the budget or a stop signal, then save, evaluate and sample
        (after SIGTERM/SIGUSR1: save and return); the planned threads only for the run."""
        try:
            t = self.cfg.train  # a fixed count (recorded in config.json), or one that follows the load
            self.threads = plan_threads(
                0 if t.adaptive_threads else t.threads or training_threads(self.world.local_size),
                splits_rows=getattr(self.engine, "splits_rows", False),
            )
            self.follow = LoadFollower()  # evaluation and sampling may follow the load: they change no weight
            speed = getattr(self.engine, "speed", None)
            self.throughput = Throughput.of(self.cfg, self.cfg.seq_len, self.world.size, speed, self.device)
            with thread_scope(self.threads.threads), StopSignals(self.agree) as stop, self.world.guard():
                self.governor = self.threads.governor()
                if self.progress:
                    self.print_header()
                return self._train(stop)
        finally:
            self.writer.close()

    def _train(self, stop: StopSignals) -> TrainResult:
        t = self.cfg.train
        decay_steps = t.decay_steps or t.max_steps
        schedule = (t.lr, t.warmup_steps, decay_steps, t.min_lr_ratio, t.schedule, t.decay_fraction)
        estimate = self.source.estimate_set()
        ranks, alone = self.world.size if self._share().split else 1, not getattr(self.engine, "collective", False)

        def probe() -> None:  # time evaluation batches at the threads evaluation gets now
            with thread_scope(self.follow.threads()):
                budget.calibrate(self.engine.eval_sums, estimate, ranks)

        budget = Budget(t, self.source.final_sets()[0].targets, estimate.targets, probe if alone else None)
        if t.time_budget:  # time the evaluation and the samples at the threads they get, to keep room for them
            probe()
            with thread_scope(self.follow.threads()):
                budget.timed_samples(self.source.sample_seconds(self.engine.sampling_model(), t.seed))
        start_time = time.perf_counter() - self.elapsed
        last_log_time, last_log_tokens = time.perf_counter(), self.tokens
        stopped_by = "max_steps"
        bar = Progress(t.max_steps, self.step, enabled=self.progress, time_budget=t.time_budget)
        self.callbacks.start(RunStart(self.writer.path, self.cfg, self.step, self.resumed))
        try:
            while self.step < t.max_steps:
                step_start = time.perf_counter()
                lr = learning_rate(budget.position(self.step, decay_steps), *schedule)
                micro = split_micro_batches(*self.batches.next(t.batch_size * t.grad_accum), t.batch_size)
                capture = bool(t.diagnostics_every) and (self.step + 1) % t.diagnostics_every == 0
                result = self.engine.train_step(micro, lr, capture=capture)
                step_tokens = sum(int(np.asarray(b[1]).size) for b in micro) * self.world.size  # every process
                self.step, self.tokens = self.step + 1, self.tokens + step_tokens
                now = time.perf_counter()
                self.elapsed = now - start_time
                if self.governor is not None and (note := self.governor.observe(now - step_start)):
                    bar.note(note)
                eval_next = bool(t.eval_every) and (self.step + 1) % t.eval_every == 0
                # read once per step: where distributed ranks agree (the budget is rank 0's)
                reason = stop.check(budget.spent(now - step_start, eval_next))
                last = self.step == t.max_steps or reason is not None
                record = None
                if self.step % t.log_every == 0 or last:
                    speed = (self.tokens - last_log_tokens) / max(now - last_log_time, 1e-9)
                    record = {
                        "step": self.step,
                        "tokens": self.tokens,
                        "train_loss": result.loss,
                        "lr": lr,
                        "grad_norm": result.grad_norm,
                        **result.metrics,  # what the objective reports beyond the loss (see training.objectives)
                        "tokens_per_sec": speed,
                        **self.throughput.record(speed),
                        "elapsed_s": self.elapsed,
                    }
                    last_log_time, last_log_tokens = now, self.tokens
                if t.eval_every and self.step % t.eval_every == 0:
                    record = record or {"step": self.step, "tokens": self.tokens, "lr": lr, "elapsed_s": self.elapsed}
                    key = "train_eval_loss" if estimate.name == "train" else "val_loss"  # no held-out data: say so
                    record[key] = self._estimate(estimate, budget)
                    bar.note(
                        f"step {self.step}: train {result.loss:.4f}  {estimate.name} (fixed batches) {record[key]:.4f}"
                    )
                if record:
                    self.log(record)
                if result.probe is not None:
                    self.writer.log(result.probe.record(self.step, result.grad_norm), DIAGNOSTICS)
                bar.update(self.step, result.loss, step_tokens / max(now - step_start, 1e-9))
                if t.sample_every and self.step % t.sample_every == 0 and not last:
                    self.record_samples()  # their own generators: the training streams are untouched
                if self.step % t.save_every == 0 and not last:
                    self.save()
                if reason is not None:
                    stopped_by = reason
                    break
        finally:
            bar.close()
        if self.progress:
            message(
                f"trained to step {self.step:,} in {duration(time.perf_counter() - budget.start)} "
                f"({stopped_by.replace('_', ' ')})"
            )
        return self._finish(stop, stopped_by, budget)

    def _finish(self, stop: StopSignals, stopped_by: str, budget: Budget) -> TrainResult:
        """Save first (whatever comes after may be cut short), then the final evaluation and the
        samples (both skipped after SIGTERM/SIGUSR1), then ``summary.json``."""
        self.save()
        final: dict[str, Any] = {}
        samples: list[str] = []
        eval_start = time.perf_counter()
        done = finished = eval_start
        try:
            stop.raise_if_terminated()
            final = self.final_evaluation(stop)
            done = time.perf_counter()
            stop.raise_if_terminated()
            samples = self.record_samples()
            finished = time.perf_counter()
        except Terminated:
            pass
        summary = {
            "steps": self.step,
            "tokens": self.tokens,
            "stopped_by": stopped_by,
            "elapsed_s": self.elapsed,
            "final": final,
            "sample": samples[0] if samples else "",
            "samples": samples,
            "budget": budget.summary(eval_start, done, finished),
            "threads": self.threads.summary(self.governor),
        }
        self.writer.write_summary(summary)
        self.callbacks.end(summary)
        return TrainResult(
            self.writer.path, self.step, stopped_by, final, summary["sample"], samples, self.world.rank, self.cfg
        )

    # ---- evaluation ----------------------------------------------------------------------
    def _share(self) -> RankShare:
        """This rank's share of an evaluation's batches (all of them in one process, or under FSDP)."""
        return RankShare(self.engine.eval_sums, self.world, lockstep=getattr(self.engine, "collective", False))

    def _estimate(self, estimate: EvalSet, budget: Budget) -> float:
        """The mean loss on the fixed batches of the periodic estimate, its speed recorded for
        the time budget's prediction."""
        start, share = time.perf_counter(), self._share()
        with thread_scope(self.follow.threads()):
            loss = measure(
                share, estimate, progress=self.progress, label=f"{estimate.name} estimate", reduce=share.reduce
            )
        budget.record_eval(estimate.targets, time.perf_counter() - start)
        return float(loss["loss"])

    def final_evaluation(self, stop: StopSignals | None = None) -> dict:
        """Every target of the source's final sets: the first is the run's loss (named after its
        split), the others are reported under ``"splits"``; with ``stop``, a SIGTERM cuts it short."""

        def checked(*batch):
            if stop is not None:
                stop.raise_if_terminated()
            return share(*batch)

        sets, results = self.source.final_sets(), {}
        for data in sets:
            share, label = self._share(), f"final {data.name} evaluation"
            if id(data) not in results:  # a set reported twice is measured once
                with thread_scope(self.follow.threads()):
                    results[id(data)] = measure(checked, data, progress=self.progress, label=label, reduce=share.reduce)
        final = named(sets[0].name, results[id(sets[0])])
        if len(sets) > 1:
            final["splits"] = {data.name: results[id(data)] for data in sets[1:]}
        return final

    # ---- records, samples, checkpoints ---------------------------------------------------
    def log(self, record: dict) -> None:
        self.writer.log(record)
        self.callbacks.record(record)

    def record_samples(self) -> list[str]:
        """The source's samples, logged to ``samples.jsonl`` with the step."""
        model = self.engine.sampling_model()  # under FSDP every rank gathers the weights
        if not self.world.is_main:
            return []
        with thread_scope(self.follow.threads()):
            pairs = self.source.sample(model, self.cfg.train.seed, progress=self.progress)
        for prompt, text in pairs:
            self.writer.log({"step": self.step, "prompt": prompt, "text": text}, SAMPLES)
        self.callbacks.samples(self.step, list(pairs))
        return [text for _, text in pairs]

    def save(self) -> None:
        """A checkpoint (every rank takes part: RNGs and loader positions are gathered; rank 0 writes)."""
        state, loaders = gather_state(self.engine, self.batches.state(), self.world)
        if state is not None:
            position = {"step": self.step, "tokens": self.tokens, "elapsed_s": self.elapsed}
            self.writer.save(state, position, loaders, self.world.size)

    def print_header(self) -> None:
        """The start-up header and the plan's warnings, on stderr (see ``training.header``)."""
        device = "cpu (NumPy)" if self.cfg.train.engine == "glass" else str(self.device)
        speed = getattr(self.engine, "speed", None)
        where = (self.writer.path, self.source, device, torch.get_num_threads(), self.step, self.resumed)
        lines = header_lines(self.cfg, *where, speed.dtype if speed else None)
        lines += scale_lines(self.cfg, self.world.size, self.mode, speed, self.throughput)
        for line in lines + plan_warnings(self.cfg, self.step):
            message(line)
