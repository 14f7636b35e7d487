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

from dataclasses import dataclass

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
