"""The training bar: steps, loss, tokens/s and the time left, on ``glassgpt.progress``.

The time left is whichever ends the run first: the steps still to go at the measured
speed, or what remains of the time budget.  When the budget will end the run before
``max_steps``, the bar says so, and one line says it once, with the step it will reach.
"""

from __future__ import annotations

import time

from glassgpt.progress import Task, duration, rate


class Progress:
    def __init__(self, total: int, done: int, enabled: bool = True, time_budget: float = 0.0):
        self.total, self.enabled, self.budget = total, enabled, time_budget
        self.first_step = done
        self.start = time.monotonic()
        self.speed = None  # tokens/s, smoothed
        self.warned_budget = False
        self.task = Task("train", total, enabled=enabled, done_message=False)
        self.task.update(done)

    def time_left(self, step: int) -> tuple[float | None, bool]:
        """(seconds left, whether the budget is what ends the run)."""
        elapsed = time.monotonic() - self.start
        steps_done = step - self.first_step
        by_steps = (self.total - step) * elapsed / steps_done if steps_done > 0 else None
        if not self.budget:
            return by_steps, False
        by_budget = max(0.0, self.budget - elapsed)
        if by_steps is None or by_budget < by_steps:
            return by_budget, True
        return by_steps, False

    def update(self, step: int, loss: float, tokens_per_sec: float) -> None:
        self.speed = tokens_per_sec if self.speed is None else 0.9 * self.speed + 0.1 * tokens_per_sec
        left, budget_ends = self.time_left(step)
        detail = f"loss {loss:.4f} · {rate(self.speed)} tok/s"
        self.task.update(step, detail=detail, eta=left, eta_note="budget" if budget_ends else "")
        elapsed = time.monotonic() - self.start
        if budget_ends and not self.warned_budget and step - self.first_step >= 10 and elapsed > 2:
            self.warned_budget = True
            steps_per_s = (step - self.first_step) / elapsed
            reach = min(self.total, int(self.first_step + steps_per_s * self.budget))
            self.task.note(
                f"the {duration(self.budget)} time budget will end this run near step {reach:,} "
                f"of {self.total:,} ({steps_per_s:.2f} steps/s)"
            )

    def note(self, text: str) -> None:
        self.task.note(text)

    def close(self) -> None:
        self.task.close()
