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

A machine whose load changes after a measurement would make the prediction stale: a busier
machine evaluates and samples more slowly than measured, and the run would overshoot.  So
every prediction remembers the training pace when it was measured (``Pace``: the median of
the last ``PACE_STEPS`` step times, so one slow step does not count; for what was timed
before the first step, the median of the first ``PACE_STEPS`` steps) and is scaled by the
pace now over that pace: twice as slow steps reserve twice the time, and a machine that got
faster keeps less in reserve.  The training pace is only a proxy (training threads are fixed
while evaluation's follow the load, so a busy machine slows them by different factors): when
the pace drifts by more than ``DRIFT`` from the pace of the latest measurement, the
evaluation is timed again (``probe``: a few batches at the threads it would get), and the
samples are scaled by how the evaluation's speed changed since they were timed.  The
schedule's time clock (``position``) divides by the same rescaled horizon, and never runs
backwards, so its decay still ends with the budget.

A burst of outside load while an evaluation is timed makes that one measurement slow while
the training pace stays as it was (a test run started beside a speedrun once made it predict
a 61 s final evaluation that took 3 s, and training stopped at 40% of the budget).  So before
a stop that rests on a measurement ``DRIFT`` times slower than the best one seen at a similar
pace (``EvalClock.doubtful``), the evaluation is timed once more (``rechecks`` in
``summary.json``), and the run stops only if the new prediction still says so.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from glassgpt.config import TrainConfig
from glassgpt.data.source import first_batches
from glassgpt.training.schedule import time_position

#: the predicted final evaluation is stretched by this much before it is reserved
MARGIN = 1.1
#: the training pace is the median of this many recent step times
PACE_STEPS = 3
#: the evaluation is timed again when the pace is this many times slower or faster than at its latest timing
DRIFT = 1.25


class Pace:
    """The training pace: the median of the last ``PACE_STEPS`` step times (``now``), and of the
    first ``PACE_STEPS`` (``first``: the pace of what was timed before the first step)."""

    def __init__(self) -> None:
        self.recent: deque[float] = deque(maxlen=PACE_STEPS)
        self.first = 0.0

    def observe(self, seconds: float) -> None:
        self.recent.append(seconds)
        if not self.first and len(self.recent) == PACE_STEPS:
            self.first = statistics.median(self.recent)

    def now(self) -> float:
        """The recent pace in seconds a step (0 before the first step)."""
        return statistics.median(self.recent) if self.recent else 0.0

    def slowdown(self, measured_at: float) -> float:
        """How many times slower training runs now than at pace ``measured_at`` (0: before the
        first step, which stands for the first steps' pace); 1 while either is unknown."""
        then, now = measured_at or self.first, self.now()
        return now / then if then > 0 and now > 0 else 1.0


@dataclass
class EvalClock:
    """Evaluation speed, from the most recent timed evaluation (a machine that got busy
    evaluates more slowly, so the latest measurement is the best guess), and the training
    pace when it was timed (0: before the first step)."""

    tokens_per_sec: float = 0.0
    pace: float = 0.0
    best: float = 0.0  # the fastest evaluation measured, and the pace then
    best_pace: float = 0.0

    def record(self, tokens: int, seconds: float, pace: float = 0.0) -> None:
        if tokens > 0 and seconds > 0:
            self.tokens_per_sec, self.pace = tokens / seconds, pace
            if self.tokens_per_sec > self.best:
                self.best, self.best_pace = self.tokens_per_sec, pace

    def doubtful(self, pace_slowdown: float) -> bool:
        """Whether the latest measurement looks like a burst of outside load: ``DRIFT`` times
        slower than the best, while training (``pace_slowdown``: the pace now over the pace at
        the best) did not slow down as much."""
        slower = self.best / self.tokens_per_sec if self.tokens_per_sec > 0 else 1.0
        return slower > DRIFT and pace_slowdown < slower / DRIFT

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
    periodic estimate measure; ``probe``: times a few evaluation batches again (``calibrate``)
    when the pace drifts (None: the pace alone scales the predictions)."""

    def __init__(
        self, train: TrainConfig, final_targets: int, estimate_targets: int, probe: Callable[[], None] | None = None
    ):
        self.train, self.final_targets, self.estimate_targets = train, final_targets, estimate_targets
        self.probe, self.probes = probe, 0
        self.rechecks, self.rechecked = 0, False  # evaluations timed again before a doubtful stop
        self.sampling_s, self.sampling_rate = 0.0, 0.0  # the samples' seconds and the evaluation's speed then
        self.evals = EvalClock()
        self.pace = Pace()
        self.furthest = 0.0  # the time clock's furthest position
        self.start = time.perf_counter()

    def record_eval(self, tokens: int, seconds: float) -> None:
        """A periodic evaluation of ``tokens`` targets took ``seconds`` at the current pace."""
        self.evals.record(tokens, seconds, self.pace.now())
        self.rechecked = False

    def final_eval_s(self) -> float:
        """The predicted seconds of the final evaluation, at the current pace."""
        return self.evals.predict(self.final_targets) * self.pace.slowdown(self.evals.pace)

    def timed_samples(self, seconds: float) -> None:
        """The end samples were timed (before the first step, after ``calibrate``) at ``seconds``."""
        self.sampling_s, self.sampling_rate = seconds, self.evals.tokens_per_sec

    def samples_s(self) -> float:
        """The predicted seconds of the end samples: as timed, scaled by how the evaluation's
        speed changed since then, and at the current pace."""
        rate, now = self.sampling_rate, self.evals.tokens_per_sec
        return self.sampling_s * (rate / now if rate > 0 and now > 0 else 1.0) * self.pace.slowdown(self.evals.pace)

    def reserved(self) -> float:
        """Seconds kept for the final evaluation and the samples (unstretched)."""
        return self.final_eval_s() + self.samples_s()

    def position(self, step: int, decay_steps: int) -> float:
        """The schedule's position at ``step``: the step itself, or on the time clock the step
        the share of the training time spent so far stands for."""
        t = self.train
        if t.schedule_clock != "time":
            return step
        horizon = t.time_budget - MARGIN * self.reserved()  # rescaled with the pace: never backwards
        fraction = (time.perf_counter() - self.start) / max(horizon, 1e-9)
        self.furthest = max(self.furthest, time_position(step, t.warmup_steps, decay_steps, fraction))
        return self.furthest

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
            self.evals.record(size * ranks, sorted(seconds[1:])[len(seconds[1:]) // 2], self.pace.now())

    def summary(self, eval_start: float, done: float, finished: float) -> dict:
        """``summary.json``'s ``budget``: what each phase took, and what was predicted when
        training stopped (at the last steps' pace)."""
        return {
            "time_budget_s": self.train.time_budget,
            "training_s": eval_start - self.start,
            "final_eval_s": done - eval_start,
            "predicted_final_eval_s": self.final_eval_s(),
            "with_final_eval_s": done - self.start,
            "predicted_samples_s": self.samples_s(),
            "samples_s": finished - done,
            "with_samples_s": finished - self.start,
            "started_unix": time.time() - (finished - self.start),
            "pace_slowdown": self.pace.slowdown(0.0),  # the last steps' pace over the first steps'
            "probes": self.probes,  # evaluations timed again because the pace drifted
            "rechecks": self.rechecks,  # evaluations timed again before a stop resting on a doubtful one
        }

    def spent(self, step_seconds: float, eval_next: bool) -> bool:
        """Whether to stop after this step: the next one (and the estimate due after it) and
        the final evaluation would not fit in the budget (``step_seconds`` joins the pace)."""
        self.pace.observe(step_seconds)
        drift = self.pace.slowdown(self.evals.pace)
        if self.probe is not None and len(self.pace.recent) == PACE_STEPS and not 1 / DRIFT < drift < DRIFT:
            self.probes += 1
            self.probe()
        if not self._stop(step_seconds, eval_next):
            return False
        if self.probe is None or self.rechecked or not self.evals.doubtful(self.pace.slowdown(self.evals.best_pace)):
            return True
        self.rechecked, self.rechecks = True, self.rechecks + 1
        self.probe()
        return self._stop(step_seconds, eval_next)

    def _stop(self, step_seconds: float, eval_next: bool) -> bool:
        estimate = self.evals.predict(self.estimate_targets) * self.pace.slowdown(self.evals.pace)
        next_cost = step_seconds + (estimate if eval_next else 0.0)
        return out_of_time(time.perf_counter() - self.start, self.train.time_budget, next_cost, self.reserved())
