"""Learning rate per step: linear warmup (non-zero at step 0), then decay to a floor.

The position on the schedule is the step, or (``train.schedule_clock = "time"``) the share
of the time budget spent, so a run stopped by its budget still completes its decay.
"""

from __future__ import annotations

import math


def learning_rate(
    step: int,
    lr: float,
    warmup_steps: int,
    decay_steps: int,
    min_lr_ratio: float = 0.1,
    schedule: str = "cosine",
    decay_fraction: float = 0.2,
) -> float:
    """Learning rate for optimizer step ``step`` (0-based).

    Warmup: ``lr * (step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, so
    the very first update already moves.  Then, until ``decay_steps``, ``cosine`` or
    ``linear`` decay from ``lr`` to ``lr * min_lr_ratio`` (``constant`` stays at ``lr``);
    after ``decay_steps`` it stays at the floor.

    ``wsd`` (warmup–stable–decay): ``lr`` held flat after the warmup, then a linear decay to
    the floor over the last ``decay_fraction`` of the ``decay_steps`` (never starting before
    the warmup ends).  Holding the peak longer and decaying briefly at the end lets the
    same run be stopped anywhere the decay can be planned.

    ``step``: ``lr`` after the warmup, then the floor for the last ``decay_fraction`` of
    ``decay_steps`` — the makemore lectures' schedule (0.1 for the first 100,000 of 200,000
    steps, then 0.01: ``min_lr_ratio`` 0.1, ``decay_fraction`` 0.5).
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    floor = lr * min_lr_ratio
    start = warmup_steps
    if schedule in ("wsd", "step"):
        start = max(warmup_steps, decay_steps - round(decay_fraction * decay_steps))
        if step < start:
            return lr
        if schedule == "step":
            return floor
    span = max(1, decay_steps - start)
    progress = min(1.0, (step - start) / span)
    if schedule in ("linear", "wsd"):
        return lr - (lr - floor) * progress
    return floor + 0.5 * (lr - floor) * (1.0 + math.cos(math.pi * progress))


def time_position(step: int, warmup_steps: int, decay_steps: int, fraction: float) -> float:
    """Where on a ``decay_steps``-long schedule a run stands when it has spent ``fraction`` of
    its training time: the warmup counts real steps; after it, the position is
    ``fraction · decay_steps`` (never back inside the warmup), so the decay ends when the time does."""
    if step < warmup_steps:
        return step
    return max(float(warmup_steps), min(1.0, fraction) * decay_steps)
