"""The time budget: training stops early enough for the final evaluation to fit inside it.

``--time-budget SECONDS`` covers training, the final evaluation on every validation token
and the end-of-run samples.  The final evaluation's cost is predicted from measured
evaluation speed: the trainer times four evaluation batches before the first step (the
median of the last three counts: the first also pays for warming up) and every periodic
evaluation, and
``EvalClock`` keeps the latest tokens-per-second.  The samples' cost is predicted from one
short sample timed before the first step (a little past the context length, so both the
cached and the cropped regime are in it).  Training stops after the step at which

    elapsed + next step + margin · (predicted final evaluation + samples)  ≥  budget,

with the next step's duration taken as the last step's (plus the periodic evaluation when
one is due after it).  The prediction and what the final
evaluation really took are both kept in ``summary.json`` (``budget``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from glassgpt.config import TrainConfig
from glassgpt.data.source import first_batches
from glassgpt.training.schedule import time_position

#: the predicted final evaluation is stretched by this much before it is reserved
MARGIN = 1.1


@dataclass
class EvalClock:
    """Evaluation speed, from the most recent timed evaluation (a machine that got busy
    evaluates more slowly, so the latest measurement is the best guess)."""

    tokens_per_sec: float = 0.0

    def record(self, tokens: int, seconds: float) -> None:
        if tokens > 0 and seconds > 0:
            self.tokens_per_sec = tokens / seconds

    def predict(self, tokens: int) -> float:
        """Seconds to evaluate ``tokens`` tokens (0 before any measurement)."""
        return tokens / self.tokens_per_sec if self.tokens_per_sec > 0 else 0.0


def out_of_time(elapsed: float, budget: float, last_step: float, final_eval: float) -> bool:
    """Whether to stop now: another step and the (stretched) final evaluation would not fit.
    A budget of 0 means no limit."""
    return bool(budget) and elapsed + last_step + MARGIN * final_eval >= budget


class Budget:
    """One session's clock: when to stop for the time budget, and where a schedule on the
    time clock (``train.schedule_clock = "time"``) stands.

    ``final_targets`` and ``estimate_targets``: the targets the final evaluation and one
    periodic estimate measure; ``sampling_s``: the predicted seconds of the end samples."""

    def __init__(self, train: TrainConfig, final_targets: int, estimate_targets: int, sampling_s: float = 0.0):
        self.train, self.final_targets, self.estimate_targets = train, final_targets, estimate_targets
        self.sampling_s = sampling_s
        self.evals = EvalClock()
        self.start = time.perf_counter()

    def reserved(self) -> float:
        """Seconds kept for the final evaluation and the samples (unstretched)."""
        return self.evals.predict(self.final_targets) + self.sampling_s

    def position(self, step: int, decay_steps: int) -> float:
        """The schedule's position at ``step``: the step itself, or on the time clock the step
        the share of the training time spent so far stands for."""
        t = self.train
        if t.schedule_clock != "time":
            return step
        horizon = t.time_budget - MARGIN * self.reserved()
        return time_position(step, t.warmup_steps, decay_steps, (time.perf_counter() - self.start) / max(horizon, 1e-9))

    def calibrate(self, sums, estimate, ranks: int = 1) -> None:
        """Time the first four batches of the periodic estimate (the median of the last three
        counts: the first also warms up), so the final evaluation can be predicted; ``ranks``:
        how many processes share an evaluation's batches."""
        seconds, size = [], 0
        for batch in first_batches(estimate, 4):
            start = time.perf_counter()
            sums(*batch)
            seconds.append(time.perf_counter() - start)
            size = int((np.asarray(batch[1]) >= 0).sum())
        if len(seconds) >= 2:
            self.evals.record(size * ranks, sorted(seconds[1:])[len(seconds[1:]) // 2])

    def summary(self, eval_start: float, done: float, finished: float, predicted: float) -> dict:
        """``summary.json``'s ``budget``: what each phase took, and what was predicted."""
        return {
            "time_budget_s": self.train.time_budget,
            "training_s": eval_start - self.start,
            "final_eval_s": done - eval_start,
            "predicted_final_eval_s": predicted,
            "with_final_eval_s": done - self.start,
            "predicted_samples_s": self.sampling_s,
            "samples_s": finished - done,
            "with_samples_s": finished - self.start,
            "started_unix": time.time() - (finished - self.start),
        }

    def spent(self, step_seconds: float, eval_next: bool) -> bool:
        """Whether to stop after this step: the next one (and the estimate due after it) and
        the final evaluation would not fit in the budget."""
        next_cost = step_seconds + (self.evals.predict(self.estimate_targets) if eval_next else 0.0)
        return out_of_time(time.perf_counter() - self.start, self.train.time_budget, next_cost, self.reserved())
