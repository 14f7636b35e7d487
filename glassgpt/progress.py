"""Progress for every wait longer than a moment: a live bar on a terminal, plain lines in a log.

    with task("final evaluation", total=n_batches, enabled=progress) as t:
        for batch in batches:
            ...
            t.advance()

    with task("preparing data", enabled=progress):   # no total: a spinner and the time so far
        ...

On a terminal (stderr), every running task is one row of a single rich live display, so
tasks may nest (the training bar, then an evaluation inside it).  Elsewhere (a log file,
a pipe, CI) a task prints one plain line after ``PLAIN_FIRST`` seconds and then every
``PLAIN_EVERY`` seconds, so a log shows that something is happening without a line per
step; a small background thread keeps that promise for a task that is waiting on one long
call and never updates.  A task that took longer than ``SLOW`` seconds says when it is done.  Nothing is
printed when ``enabled`` is false (the library's default; the CLI turns it on).

Everything goes to stderr: standard output stays clean for results and ``--json``.
"""

from __future__ import annotations

import math
import sys
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn
from rich.progress import Progress as RichProgress
from rich.table import Column
from rich.text import Text

PLAIN_FIRST = 2.0  # seconds before a plain-text task prints its first line
PLAIN_EVERY = 10.0  # seconds between plain-text lines
SLOW = 2.0  # a task that took longer says when it is done
HEARTBEAT = 0.5  # how often a plain-text task checks whether a line is due

__all__ = ["Task", "task", "message", "duration", "rate"]


def duration(seconds: float) -> str:
    """``seconds`` as ``12.3 s``, ``4:05`` or ``1:02:03``."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def rate(x: float) -> str:
    """A rate in at most 5 characters: 950, 17.8k, 1.2M."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.0f}"


def _stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


class _TimeColumn(ProgressColumn):
    """Time left (when known) or time so far, computed by the task at each refresh."""

    def render(self, task) -> Text:
        owner = task.fields.get("owner")
        return Text(owner.time_text() if owner else "", style="progress.remaining")


class _Display:
    """The one live region on stderr, shared by all running tasks (a terminal has one cursor)."""

    lock = threading.Lock()
    current: _Display | None = None

    def __init__(self):
        self.console = _stderr_console()

        # one line per task however narrow the terminal: cells are cut short ("…"), never wrapped
        def cell(**kw) -> Column:
            return Column(no_wrap=True, overflow="ellipsis", **kw)

        self.rich = RichProgress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}", table_column=cell(max_width=20)),
            BarColumn(bar_width=10),
            TextColumn("{task.fields[count]}", table_column=cell()),
            TextColumn("{task.fields[detail]}", table_column=cell(ratio=1)),
            _TimeColumn(table_column=cell()),
            console=self.console,
            transient=True,
            expand=True,
        )
        self.rows = 0

    @classmethod
    def join(cls) -> _Display:
        with cls.lock:
            if cls.current is None:
                cls.current = cls()
                cls.current.rich.start()
            cls.current.rows += 1
            return cls.current

    def leave(self) -> None:
        with self.lock:
            self.rows -= 1
            if self.rows == 0:
                self.rich.stop()
                _Display.current = None


def live() -> bool:
    """True when stderr is a terminal that can show a live display."""
    console = _stderr_console()
    return console.is_terminal and not console.is_dumb_terminal


def message(text: str, enabled: bool = True) -> None:
    """One line on stderr, printed above any live bars."""
    if not enabled:
        return
    display = _Display.current
    if display is not None:
        display.console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        print(text, file=sys.stderr, flush=True)


class Task:
    """A wait shown to the user; see the module docstring.  ``total=None``: no known end."""

    def __init__(self, label: str, total: int | None = None, *, enabled: bool = True, done_message: bool = True):
        self.label, self.total, self.enabled = label, total, enabled
        self.done_message = done_message
        self.completed = 0
        self.detail = ""
        self.eta: float | None = None  # seconds left, when the caller knows better than the rate
        self.eta_note = ""  # why it ends then, e.g. "budget"
        self.start = time.monotonic()
        self._next_plain = self.start + PLAIN_FIRST
        self._display: _Display | None = None
        self._row = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if enabled and live():
            self._display = _Display.join()
            self._row = self._display.rich.add_task(
                label, total=total, completed=0, count=self._count(), detail="", owner=self
            )
        elif enabled:
            threading.Thread(target=self._heartbeat, name=f"progress: {label}", daemon=True).start()

    # ---- what the row shows ----------------------------------------------------------
    def _count(self) -> str:
        return f"{self.completed:,}/{self.total:,}" if self.total is not None else ""

    def remaining(self) -> float | None:
        if self.eta is not None:
            return max(0.0, self.eta)
        if self.total is None or self.completed <= 0:
            return None
        elapsed = time.monotonic() - self.start
        return elapsed / self.completed * max(0, self.total - self.completed)

    def time_text(self) -> str:
        left = self.remaining()
        if left is None:
            return duration(time.monotonic() - self.start)
        return f"{duration(left)} left" + (f" ({self.eta_note})" if self.eta_note else "")

    # ---- the caller's side ---------------------------------------------------------------
    def update(
        self,
        completed: int | None = None,
        *,
        advance: int = 0,
        total: int | None = None,
        detail: str | None = None,
        eta: float | None = None,
        eta_note: str | None = None,
    ) -> None:
        """Set or advance the count; ``detail`` is free text after it; ``eta`` overrides the
        time-left estimate (seconds) and ``eta_note`` says why, e.g. "budget"."""
        if completed is not None:
            self.completed = completed
        self.completed += advance
        if total is not None:
            self.total = total
        if detail is not None:
            self.detail = detail
        if eta is not None:
            self.eta = eta
        if eta_note is not None:
            self.eta_note = eta_note
        if not self.enabled:
            return
        if self._display is not None:
            self._display.rich.update(
                self._row, completed=self.completed, total=self.total, count=self._count(), detail=self.detail
            )
            return
        self._plain_line_if_due()

    def advance(self, n: int = 1, **kwargs) -> None:
        self.update(advance=n, **kwargs)

    def _plain_line_if_due(self) -> None:
        with self._lock:
            now = time.monotonic()
            if not self.enabled or now < self._next_plain:
                return
            self._next_plain = now + PLAIN_EVERY
        parts = [p for p in (self._count(), self.detail, self.time_text()) if p]
        print(f"{self.label}: " + " · ".join(parts), file=sys.stderr, flush=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            self._plain_line_if_due()

    def note(self, text: str) -> None:
        """A line above the bars (or a plain line)."""
        message(text, self.enabled)

    def close(self, failed: bool = False) -> None:
        """Remove the row; a slow task that succeeded says how long it took."""
        self._stop.set()
        if self._display is not None:
            self._display.rich.remove_task(self._row)
            self._display.leave()
            self._display = None
        elapsed = time.monotonic() - self.start
        with self._lock:
            was_enabled, self.enabled = self.enabled, False
        if was_enabled and self.done_message and not failed and elapsed >= SLOW:
            detail = f" ({self.detail})" if self.detail else ""
            message(f"{self.label}: done in {duration(elapsed)}{detail}")

    def __enter__(self) -> Task:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)


def task(label: str, total: int | None = None, *, enabled: bool = True, done_message: bool = True) -> Task:
    """A ``Task``: use it as a context manager (``with task(...) as t:``)."""
    return Task(label, total, enabled=enabled, done_message=done_message)
