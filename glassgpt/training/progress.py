"""A live progress bar (rich) with loss, tokens/s and ETA; plain lines when not on a terminal."""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, total: int, done: int, enabled: bool = True):
        self.total, self.enabled = total, enabled
        self.live = enabled and sys.stderr.isatty()
        self.speed = None
        self._bar = None
        self._last_print = 0.0
        if self.live:
            self._bar = RichProgress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss [cyan]{task.fields[loss]}"), TextColumn("{task.fields[speed]} tok/s"),
                TimeRemainingColumn(), transient=False,
            )
            self._task = self._bar.add_task("train", total=total, completed=done, loss="-", speed="-")
            self._bar.start()

    def update(self, step: int, loss: float, tokens_per_sec: float) -> None:
        self.speed = tokens_per_sec if self.speed is None else 0.9 * self.speed + 0.1 * tokens_per_sec
        if self._bar is not None:
            self._bar.update(self._task, completed=step, loss=f"{loss:.4f}", speed=f"{self.speed:,.0f}")
        elif self.enabled and (time.monotonic() - self._last_print > 10 or step == self.total):
            self._last_print = time.monotonic()
            print(f"step {step}/{self.total}  loss {loss:.4f}  {self.speed:,.0f} tok/s", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        elif self.enabled:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
