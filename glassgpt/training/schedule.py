"""Learning rate per step: linear warmup (non-zero at step 0), then decay to a floor."""

from __future__ import annotations

import math


def learning_rate(step: int, lr: float, warmup_steps: int, decay_steps: int,
                  min_lr_ratio: float = 0.1, schedule: str = "cosine") -> float:
    """Learning rate for optimizer step ``step`` (0-based).

    Warmup: ``lr * (step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, so
    the very first update already moves.  Then, until ``decay_steps``, ``cosine`` or
    ``linear`` decay from ``lr`` to ``lr * min_lr_ratio`` (``constant`` stays at ``lr``);
    after ``decay_steps`` it stays at the floor.
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    floor = lr * min_lr_ratio
    span = max(1, decay_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    if schedule == "linear":
        return lr - (lr - floor) * progress
    return floor + 0.5 * (lr - floor) * (1.0 + math.cos(math.pi * progress))
