"""Progress for every wait longer than a moment: a live bar on a terminal, plain lines in a log.

    with task("final evaluation", total=n_batches, enabled=progress) as t:
        for batch in batches:
            ...
            t.advance()

    with task("preparing data", enabled=progress):   # no total: a spinner and the time so far
        ...

    with ByteTask("prepare", total_bytes, enabled=progress) as t:   # MB done / total, MB/s, ETA
        t.advance(nbytes)

    bar = TrainingBar(max_steps, step, time_budget=budget)   # steps, loss, tok/s, time left
    bar.update(step, loss, tokens_per_sec)

On a terminal (stderr), every running task is one row of a single rich live display, so
tasks may nest (the training bar, then an evaluation inside it).  Elsewhere (a log file,
a pipe, CI) a task prints one plain line after ``PLAIN_FIRST`` seconds and then every
``PLAIN_EVERY`` seconds, so a log shows that something is happening without a line per
step; a small background thread keeps that promise for a task that is waiting on one long
call and never updates.  A task that took longer than ``SLOW`` seconds says when it is done.  Nothing is
printed when ``enabled`` is false (the library's default; the CLI turns it on).

A row is three texts the task computes whenever it is drawn: the count (``count_text``),
free text after it (``detail_text``) and the time (``time_text``).  ``ByteTask`` counts bytes
with the same rows and rules; ``TrainingBar`` is the trainer's row, a ``Task`` it keeps up to date.

Everything goes to stderr: standard output stays clean for results and ``--json``.
This module imports no torch: commands that must start fast import it.  rich is imported
when stderr is first asked whether it is a terminal, so a quiet run (``--quiet``, the library's
default) never loads it.
"""

from __future__ import annotations

import math
import sys
import threading
import time

PLAIN_FIRST = 2.0  # seconds before a plain-text task prints its first line
PLAIN_EVERY = 10.0  # seconds between plain-text lines
SLOW = 2.0  # a task that took longer says when it is done
HEARTBEAT = 0.5  # how often a plain-text task checks whether a line is due

__all__ = ["Task", "ByteTask", "TrainingBar", "task", "message", "live", "duration", "hms", "rate"]


def duration(seconds: float) -> str:
    """``seconds`` as ``12.3 s``, ``4:05`` or ``1:02:03``."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def hms(seconds: float | None) -> str:
    """``seconds`` as ``0:00:35`` (hours always shown, as an ETA reads); ``?`` when unknown or absurd."""
    if seconds is None or not math.isfinite(seconds) or seconds >= 365 * 86400:
        return "?"
    s = int(round(max(0.0, seconds)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def rate(x: float) -> str:
    """A rate in at most 5 characters: 950, 17.8k, 1.2M."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.0f}"


def _stderr_console():
    from rich.console import Console  # deferred: see the module docstring

    return Console(stderr=True, highlight=False)


def _rich_progress(console):
    """The rich display of the rows: spinner, label, bar and the three texts of each task
    (``count_text``, ``detail_text``, ``time_text``, computed by the task at each refresh)."""
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn
    from rich.progress import Progress as RichProgress
    from rich.table import Column
    from rich.text import Text

    class Cell(ProgressColumn):
        def __init__(self, part: str, style: str = "", **kwargs):
            super().__init__(**kwargs)
            self.part, self.style = part, style

        def render(self, task) -> Text:
            owner = task.fields.get("owner")
            return Text(getattr(owner, self.part)() if owner else "", style=self.style)

    # one line per task however narrow the terminal: cells are cut short ("…"), never wrapped
    def cell(**kw) -> Column:
        return Column(no_wrap=True, overflow="ellipsis", **kw)

    return RichProgress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}", table_column=cell(max_width=20)),
        BarColumn(bar_width=10),
        Cell("count_text", table_column=cell()),
        Cell("detail_text", table_column=cell(ratio=1)),
        Cell("time_text", "progress.remaining", table_column=cell()),
        console=console,
        transient=True,
        expand=True,
    )


class _Display:
    """The one live region on stderr, shared by all running tasks (a terminal has one cursor)."""

    lock = threading.Lock()
    current: _Display | None = None

    def __init__(self):
        self.console = _stderr_console()
        self.rich = _rich_progress(self.console)
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
    """A wait shown to the user; see the module docstring.  ``total=None``: no known end.
    ``done``: the part already done before this run (a resume); the rate counts only what
    this task does."""

    separator = " · "  # between the texts of a plain line

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        done: int = 0,
        enabled: bool = True,
        done_message: bool = True,
    ):
        self.label, self.total, self.enabled = label, total, enabled
        self.done_message = done_message
        self.completed = self.first = done
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
            self._row = self._display.rich.add_task(label, total=total, completed=done, owner=self)
        elif enabled:
            threading.Thread(target=self._heartbeat, name=f"progress: {label}", daemon=True).start()

    # ---- what the row shows ----------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def count_text(self) -> str:
        return f"{self.completed:,}/{self.total:,}" if self.total is not None else ""

    def detail_text(self) -> str:
        return self.detail

    def remaining(self) -> float | None:
        """Seconds left: what the caller said (``eta``), else the rate so far."""
        if self.eta is not None:
            return max(0.0, self.eta)
        done_here = self.completed - self.first
        if self.total is None or done_here <= 0:
            return None
        return self.elapsed() / done_here * max(0, self.total - self.completed)

    def time_text(self) -> str:
        left = self.remaining()
        if left is None:
            return duration(self.elapsed())
        return f"{duration(left)} left" + (f" ({self.eta_note})" if self.eta_note else "")

    def line(self) -> str:
        """The plain line after ``label: ``."""
        return self.separator.join(p for p in (self.count_text(), self.detail_text(), self.time_text()) if p)

    def summary(self) -> str:
        """What the done line adds in parentheses."""
        return self.detail

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
            self._display.rich.update(self._row, completed=self.completed, total=self.total)
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
        print(f"{self.label}: {self.line()}", file=sys.stderr, flush=True)

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
        elapsed = self.elapsed()
        with self._lock:
            was_enabled, self.enabled = self.enabled, False
        if was_enabled and self.done_message and not failed and elapsed >= SLOW:
            summary = self.summary()
            message(f"{self.label}: done in {duration(elapsed)}" + (f" ({summary})" if summary else ""))

    def __enter__(self) -> Task:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)


def task(
    label: str, total: int | None = None, *, done: int = 0, enabled: bool = True, done_message: bool = True
) -> Task:
    """A ``Task``: use it as a context manager (``with task(...) as t:``)."""
    return Task(label, total, done=done, enabled=enabled, done_message=done_message)


class ByteTask(Task):
    """A ``Task`` counted in bytes: ``12.5/100.0 MB  2.5 MB/s  ETA 0:00:35``.  The speed is
    this run's bytes (``done``, resumed bytes, not counted) over the time so far."""

    separator = "  "

    def speed(self) -> float:
        """Bytes per second since this task started."""
        return (self.completed - self.first) / max(self.elapsed(), 1e-9)

    def count_text(self) -> str:
        done = f"{self.completed / 1e6:,.1f}"
        return f"{done}/{self.total / 1e6:,.1f} MB" if self.total is not None else f"{done} MB"

    def detail_text(self) -> str:
        return self.separator.join(p for p in (f"{self.speed() / 1e6:,.1f} MB/s", self.detail) if p)

    def time_text(self) -> str:
        return f"ETA {hms(self.remaining())}" if self.total is not None else duration(self.elapsed())

    def summary(self) -> str:
        return f"{self.count_text()}{self.separator}{self.detail_text()}"


class TrainingBar:
    """The training row ("train"): steps, loss, tokens/s and the time left, on a ``Task``.

    The time left is whichever ends the run first: the steps still to go at the measured
    speed, or what remains of the time budget.  When the budget will end the run before
    ``total`` steps, the row says so ("left (budget)"), and one line says it once, with the
    step it will reach."""

    def __init__(self, total: int, done: int, enabled: bool = True, time_budget: float = 0.0):
        self.total, self.enabled, self.budget = total, enabled, time_budget
        self.first_step = done
        self.speed: float | None = None  # tokens/s, smoothed
        self.warned_budget = False
        self.task = Task("train", total, done=done, enabled=enabled, done_message=False)

    def time_left(self, step: int) -> tuple[float | None, bool]:
        """(seconds left, whether the budget is what ends the run)."""
        elapsed = self.task.elapsed()
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
        elapsed = self.task.elapsed()
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
