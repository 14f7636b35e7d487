"""What the training loop tells the outside world, and nothing it has to wait for.

A callback is an object with four methods, each called by the trainer at one point of a run:

    start(run)            before the first step of this session (``RunStart``: where, what, from which step)
    record(record)        every metrics record, as ``metrics.jsonl`` gets it (``step``, ``train_loss``, ``lr`` ...)
    samples(step, pairs)  the (prompt, text) pairs ``samples.jsonl`` gets, during the run and at its end
    end(summary)          the summary ``summary.json`` gets (the final evaluation, the samples)

``Callback`` does nothing in each, so a listener overrides only what it needs; a plain function
of a record is a callback too (``as_callback``).  The loop holds one ``Callbacks``: a list it
calls in order, with no branches of its own; only the process that writes the run (rank 0)
has listeners.  A notebook's live figure (``glassgpt.notebook``) and the experiment trackers
(``glassgpt.tracking``) are callbacks; ``metrics.jsonl`` stays the record of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glassgpt.config import RunConfig


@dataclass(frozen=True)
class RunStart:
    """What a callback learns when a session of a run begins."""

    run_dir: Path
    config: RunConfig
    step: int  # the first step of this session is step + 1 (0 for a new run)
    resumed: bool


class Callback:
    """A listener on the training loop; every method does nothing unless overridden."""

    def start(self, run: RunStart) -> None:
        """A session of the run begins."""

    def record(self, record: dict[str, Any]) -> None:
        """One metrics record, the same dictionary ``metrics.jsonl`` gets."""

    def samples(self, step: int, pairs: list[tuple[str, str]]) -> None:
        """The samples taken at ``step``: (prompt, text) pairs."""

    def end(self, summary: dict[str, Any]) -> None:
        """Training, the final evaluation and the samples are done (``summary.json``'s contents)."""


class RecordFunction(Callback):
    """A function of one metrics record, as a callback."""

    def __init__(self, function: Callable[[dict[str, Any]], None]):
        self.function = function

    def record(self, record: dict[str, Any]) -> None:
        self.function(record)


def as_callback(item: Callback | Callable[[dict[str, Any]], None]) -> Callback:
    """A ``Callback`` as it is; a function of a record wrapped in ``RecordFunction``."""
    return item if isinstance(item, Callback) else RecordFunction(item)


#: what a caller may pass as a callback: a ``Callback``, or a function of one metrics record
Listener = Callback | Callable[[dict[str, Any]], None]


class Callbacks(Callback):
    """Several callbacks, called in the order given."""

    def __init__(self, items: Iterable[Listener] = ()):
        self.items = tuple(as_callback(item) for item in items)

    def start(self, run: RunStart) -> None:
        for item in self.items:
            item.start(run)

    def record(self, record: dict[str, Any]) -> None:
        for item in self.items:
            item.record(record)

    def samples(self, step: int, pairs: list[tuple[str, str]]) -> None:
        for item in self.items:
            item.samples(step, pairs)

    def end(self, summary: dict[str, Any]) -> None:
        for item in self.items:
            item.end(summary)
