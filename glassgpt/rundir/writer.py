"""A run directory while one process writes it: made new, or reopened to resume.

``RunWriter.create`` claims the folder (``NewRun``: absent or complete, the writer lock
first, ``config.json`` last) after checking there is room; ``RunWriter.reopen`` takes the
lock of a run to resume.  While the run trains, the writer appends the step logs (counting
their records, which every checkpoint stores so a resume can tell a truncated log),
saves checkpoints and writes ``summary.json``; a full disk becomes one sentence that says
the last checkpoint is intact.  ``close()`` releases the lock.  The other ranks of a
distributed run get a writer that writes nothing (``RunWriter.silent``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from glassgpt.errors import DiskError, FileError, RunDirError
from glassgpt.fileio import check_writable, write_json
from glassgpt.rundir import checkpoint, space
from glassgpt.rundir.directory import NewRun, own_bytes, require_resumable
from glassgpt.rundir.layout import CONFIG, METRICS, STEP_LOGS, SUMMARY
from glassgpt.rundir.lock import NoLock, WriterLock, acquire
from glassgpt.rundir.records import append_record

#: trainer.json: the number of records of each step log at the checkpoint
LOG_RECORDS = "log_records"


class RunWriter:
    def __init__(self, path: Path, lock: WriterLock | NoLock, weight_bytes: int, active: bool = True):
        self.path, self.lock, self.weight_bytes, self.active = Path(path), lock, weight_bytes, active
        self.log_counts = dict.fromkeys(STEP_LOGS, 0)

    @classmethod
    def create(
        cls,
        path: str | Path,
        write: Callable[[Path], None],
        data_bytes: int,
        weight_bytes: int,
        overwrite: bool = False,
        command: str = "train",
    ) -> RunWriter:
        """Claim ``path`` for a new run and ``write(path)`` its files (``config.json`` last)."""
        path = Path(path)
        needed = space.new_run_bytes(weight_bytes, data_bytes)
        what, then = "the run's data and two checkpoints", "run the same command again"
        space.require_room(path, needed, what, then, freed=own_bytes(path) if overwrite else 0)
        setup = NewRun(path, overwrite, f"{command} --overwrite" if overwrite else command)
        try:
            with setup:
                write(path)
        except DiskError as exc:
            raise space.disk_message(exc, path, needed, what, then) from None
        assert setup.lock is not None
        return cls(path, setup.lock, weight_bytes)

    @classmethod
    def reopen(cls, path: str | Path, command: str = "train --resume") -> RunWriter:
        """Take the writer lock of the run in ``path`` to resume it (nothing is written yet;
        the caller sets ``weight_bytes`` once it knows the model)."""
        path = require_resumable(path)
        try:
            check_writable(path, "the run directory", "make it writable, or copy the run and resume the copy")
        except FileError as exc:
            raise RunDirError(f"cannot resume: {exc}") from None
        return cls(path, acquire(path, command), 0)

    @classmethod
    def silent(cls, path: str | Path) -> RunWriter:
        """The writer of a rank that is not rank 0: it takes part and writes nothing."""
        return cls(Path(path), NoLock(), 0, active=False)

    def _disk_full(self, exc: DiskError) -> DiskError:
        needed = space.checkpoint_bytes(self.weight_bytes)
        return space.disk_message(exc, self.path, needed, "a checkpoint", "run the same command with --resume")

    def log(self, record: dict[str, Any], name: str = METRICS) -> None:
        """Append one record to a step log."""
        if not self.active:
            return
        try:
            append_record(self.path / name, record)
        except DiskError as exc:
            raise self._disk_full(exc) from None
        self.log_counts[name] += 1

    def save(self, state: dict[str, dict], position: dict[str, Any], loaders: list[Any], world_size: int) -> None:
        """A checkpoint: the engine's ``state`` (model, optimizer, rng), the step/tokens/time
        ``position``, every rank's loader position and the logs' record counts."""
        if not self.active:
            return
        trainer = {
            **position,
            "loader_rng": loaders[0],
            "world_size": world_size,
            "loader_ranks": loaders,
            LOG_RECORDS: dict(self.log_counts),
        }
        try:
            checkpoint.save(self.path, state["model"], state["optimizer"], state["rng"], trainer)
        except DiskError as exc:
            raise self._disk_full(exc) from None

    def write_config(self, config: dict[str, Any]) -> None:
        if self.active:
            write_json(self.path / CONFIG, config)

    def write_summary(self, summary: dict[str, Any]) -> None:
        if not self.active:
            return
        try:
            write_json(self.path / SUMMARY, summary)
        except DiskError as exc:
            raise self._disk_full(exc) from None

    def close(self) -> None:
        """Release the writer lock."""
        self.lock.release()
