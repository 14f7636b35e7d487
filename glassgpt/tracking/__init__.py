"""Experiment trackers: ``glassgpt train --log tensorboard`` / ``--log wandb`` (or both).

A tracker is a training callback (``training.callbacks``) that logs what ``metrics.jsonl``
gets, the configuration, the samples and the final evaluation, into the run directory
(``RUN/tensorboard``, ``RUN/wandb``).  ``metrics.jsonl`` stays the record of the run; the
trackers show the same values where people already look.

    trackers = open_trackers(["tensorboard"], "runs/poem", resume=False)  # checks, writes nothing
    train(..., callbacks=trackers.items)
    trackers.close(report)                                                # after report.html

Each backend is an optional extra (``pip install 'glassgpt[tensorboard]'``, ``[wandb]``); a
missing one, an unknown name or a folder that cannot be written is refused in one sentence
before the run directory is touched.  A resumed run logs to the trackers its
``trackers.json`` lists unless ``--log`` names others (``--log none``: no tracker), and each
continues its own tracker run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from glassgpt.errors import ConfigError
from glassgpt.tracking.base import Tracker
from glassgpt.tracking.stored import stored_trackers
from glassgpt.tracking.tensorboard_tracker import TensorBoardTracker
from glassgpt.tracking.wandb_tracker import WandbTracker

#: the backends ``--log`` takes, by name
BACKENDS: dict[str, type[Tracker]] = {t.name: t for t in (TensorBoardTracker, WandbTracker)}


def backend_names(log: str | Iterable[str] | None) -> list[str] | None:
    """The backends ``log`` names (``"tensorboard"``, ``["tensorboard", "wandb"]``,
    ``"tensorboard,wandb"``, ``"none"``); None when it names nothing at all."""
    if log is None:
        return None
    given = [log] if isinstance(log, str) else list(log)
    names = [n.strip() for item in given for n in str(item).split(",") if n.strip()]
    for name in names:
        if name not in BACKENDS and name != "none":
            raise ConfigError(f"unknown --log backend {name!r}; choose {', '.join(BACKENDS)} or none.")
    if "none" in names and len(set(names)) > 1:
        raise ConfigError("--log none turns the trackers off, so it cannot be given with another backend.")
    return list(dict.fromkeys(n for n in names if n != "none"))


class Trackers:
    """The trackers of one training session, as callbacks, and their closing."""

    def __init__(self, items: list[Tracker]):
        self.items = items

    def close(self, report: Path | None = None, failed: bool = False) -> None:
        for item in self.items:
            item.close(report, failed)


def open_trackers(log: str | Iterable[str] | None, out: str | Path, resume: bool = False) -> Trackers:
    """The trackers ``log`` names (for a resumed run without ``log``: those of its
    ``trackers.json``), each checked (package, folder); nothing is written yet."""
    out = Path(out)
    stored = stored_trackers(out) if resume else {}
    names = backend_names(log)
    if names is None:
        names = [name for name in stored if name in BACKENDS]
    for name in names:
        BACKENDS[name].require(out)
    return Trackers([BACKENDS[name](stored.get(name)) for name in names])


__all__ = ["BACKENDS", "Tracker", "Trackers", "backend_names", "open_trackers"]
