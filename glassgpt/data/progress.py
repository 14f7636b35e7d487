"""A byte-count progress bar with MB/s and ETA: rich on a terminal, a plain line every
ten seconds (and at the end) otherwise."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn


class ByteProgress:
    def __init__(self, label: str, total: int, done: int = 0, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.label, self.total, self.done = label, total, done
        self.enabled = True if enabled is None else enabled
        self.start, self.start_done = time.monotonic(), done
        self._last = self.start
        self._bar = None
        if self.enabled and self.stream.isatty():
            self._bar = Progress(
                TextColumn(f"[bold]{label}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
            )
            self._task = self._bar.add_task(label, total=total, completed=done)
            self._bar.start()

    def speed(self) -> float:
        """Bytes per second since this bar started (resumed bytes not counted)."""
        return (self.done - self.start_done) / max(time.monotonic() - self.start, 1e-9)

    def line(self) -> str:
        speed = self.speed()
        eta = (self.total - self.done) / speed if speed > 0 else float("inf")
        eta_text = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta < 86400 * 365 else "?"
        return (
            f"{self.label}: {self.done / 1e6:,.1f}/{self.total / 1e6:,.1f} MB  {speed / 1e6:,.1f} MB/s  ETA {eta_text}"
        )

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif self.enabled and time.monotonic() - self._last >= 10:
            self._last = time.monotonic()
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self.enabled:
            print(self.line(), file=self.stream, flush=True)
