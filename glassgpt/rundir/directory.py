"""Claiming a folder for a new run, and checking that a folder holds a readable run.

A new run claims a folder only if it is new, empty, or (with ``overwrite``) holds an
earlier glassgpt run; a folder with other files is never touched.  Reading a run checks
every file it needs and says which one is missing.

A new run is either absent or complete.  ``NewRun`` creates the folder, takes the writer
lock (whose file, ``.glassgpt.lock``, is the first thing written: it marks the folder as
glassgpt's) and lets the caller write the run's files, ``config.json`` last.  An error
inside the block (a full disk, bad data) removes everything the block wrote and leaves the
folder as it was found.  A process killed inside the block leaves a folder with the lock
file and no ``config.json``: an *unfinished setup*, which holds nothing worth keeping, so
the same command simply builds the run again there (``--overwrite`` too), and every other
command says so.
"""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

from glassgpt import fileio
from glassgpt.errors import FileError, RunDirError
from glassgpt.rundir import checkpoint
from glassgpt.rundir.layout import (
    CONFIG,
    LOCK,
    MODEL,
    RUN_DIRS,
    RUN_FILES,
    SCRATCH,
    STATE_DIR,
    STATE_MODEL,
    STATE_NEW,
    STATE_OLD,
    STATE_TRAINER,
    TOKENIZER,
)
from glassgpt.rundir.lock import WriterLock, acquire

CHECKPOINT_DIRS = (STATE_DIR, STATE_NEW, STATE_OLD)


def is_run(path: Path) -> bool:
    """Whether glassgpt wrote ``path``: a configuration, a checkpoint, or the lock file."""
    return (path / CONFIG).is_file() or (path / LOCK).is_file() or any((path / d).is_dir() for d in CHECKPOINT_DIRS)


def has_checkpoint(path: Path) -> bool:
    """Whether ``path`` holds a complete checkpoint (read-only: nothing is moved)."""
    return any((path / d / STATE_TRAINER).is_file() for d in CHECKPOINT_DIRS)


def _ours(name: str) -> bool:
    return name in RUN_FILES or name in RUN_DIRS or name == LOCK or any(fnmatch.fnmatch(name, p) for p in SCRATCH)


def foreign_entries(path: Path) -> list[str]:
    """The names in ``path`` that no glassgpt run writes (the user's own files)."""
    return sorted(e.name for e in path.iterdir() if not _ours(e.name))


def own_bytes(path: Path) -> int:
    """The bytes of the files a run wrote in ``path`` (what ``--overwrite`` frees)."""
    if not path.is_dir():
        return 0
    total = 0
    for entry in path.iterdir():
        if _ours(entry.name):
            files = entry.rglob("*") if entry.is_dir() and not entry.is_symlink() else [entry]
            total += sum(f.stat().st_size for f in files if f.is_file() and not f.is_symlink())
    return total


def unfinished_setup(path: Path) -> bool:
    """A folder whose new-run setup was cut short: marked by the lock file, but without a
    configuration or a checkpoint (so it holds nothing but a rebuildable token cache)."""
    return (path / LOCK).is_file() and not (path / CONFIG).is_file() and not has_checkpoint(path)


def check_writable(path: Path) -> None:
    """The output folder can be written (nothing is created to find out)."""
    try:
        fileio.check_writable(path, "the output directory", "choose another --out")
    except FileError as exc:
        raise RunDirError(str(exc)) from None


def check_new(path: str | Path, overwrite: bool = False, command: str = "train") -> None:
    """Refuse, before anything is written, a folder a new run may not use; ``command`` (train,
    finetune, import-hf) decides what the sentence suggests: only train can ``--resume``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"--out {path} is a file, not a directory; choose another --out.")
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not is_run(path):
        raise RunDirError(f"--out {path} is not empty and is not a glassgpt run; choose a new or empty directory.")
    if overwrite:
        return
    if unfinished_setup(path):
        others = foreign_entries(path)
        if not others:
            return  # nothing worth keeping: build the run again
        raise RunDirError(
            f"{path} holds a run whose setup was cut short, and other files ({', '.join(others[:3])}); "
            "pass --overwrite to build the run there again (the other files are kept)."
        )
    if not (path / CONFIG).is_file():
        raise RunDirError(f"{path} holds a damaged run ({CONFIG} is missing); pass --overwrite to start it again.")
    trains = command.split()[0] == "train"
    if trains and not has_checkpoint(path) and not (path / MODEL).is_file():
        raise RunDirError(
            f"{path} holds a run that stopped before its first checkpoint, so there is nothing to "
            "resume; pass --overwrite to start it again."
        )
    if trains and has_checkpoint(path):
        raise RunDirError(f"{path} already holds a run; pass --resume to continue it or --overwrite to replace it.")
    raise RunDirError(f"{path} already holds a run; pass --overwrite to replace it, or choose another --out.")


def _clear(path: Path) -> None:
    """Remove every file and folder a run writes (never the lock, never the user's files);
    ``config.json`` first, so a process killed halfway leaves a folder that is not taken
    for a finished run."""
    (path / CONFIG).unlink(missing_ok=True)
    for entry in sorted(path.iterdir()):
        if entry.name == LOCK or not _ours(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


class NewRun:
    """``with NewRun(path, overwrite) as lock:`` write a new run's files (``config.json`` last).

    Entering checks the folder, creates it, takes its writer lock and clears an earlier
    run (``overwrite``) or an unfinished setup.  An ``Exception`` inside the block removes
    what was written, and the folder itself when this call created it; the lock is then
    released.  On success the lock stays held (``.lock``) for the caller to release when
    the run ends."""

    def __init__(self, path: str | Path, overwrite: bool = False, command: str = "train"):
        self.path, self.overwrite, self.command = Path(path), overwrite, command
        self.lock: WriterLock | None = None
        self._made_dir = self._made_lock = False

    def __enter__(self) -> WriterLock:
        check_new(self.path, self.overwrite, self.command)
        self._made_dir = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"cannot create the output directory {self.path} ({exc.strerror}).") from None
        try:
            self._made_lock = not (self.path / LOCK).exists()
            self.lock = acquire(self.path, self.command)  # the first file: it marks the folder as glassgpt's
        except Exception:
            self._undo()
            raise
        try:
            check_new(self.path, self.overwrite, self.command)  # again, now that no other writer can change it
            check_writable(self.path)
            _clear(self.path)
        except Exception:  # a kill-like interruption (BaseException) leaves an unfinished setup instead
            self._undo()
            raise
        return self.lock

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or not issubclass(exc_type, Exception):
            return  # success, or a kill-like interruption: an unfinished setup the next run rebuilds
        _clear(self.path)
        self._undo()

    def _undo(self) -> None:
        """Leave the folder as it was found: remove the lock file and the folder if this call made them."""
        if self.lock is not None and self.lock.held:
            if self._made_lock:
                (self.path / LOCK).unlink(missing_ok=True)
            self.lock.release()
        if self._made_dir:
            try:
                self.path.rmdir()  # only when empty: whatever is left there is not ours to remove
            except OSError:
                pass


def claim(path: str | Path, overwrite: bool = False) -> Path:
    """Make ``path`` ready for a new run and return it (no lock is kept: for tools that
    write a run in one go; the trainer uses ``NewRun``)."""
    with NewRun(path, overwrite) as lock:
        lock.release()
    return Path(path)


def unique_default(base: str | Path) -> Path:
    """``base`` if free, else ``base-2``, ``base-3`` … (for runs started without --out)."""
    base = Path(base)
    if not base.exists():
        return base
    i = 2
    while Path(f"{base}-{i}").exists():
        i += 1
    return Path(f"{base}-{i}")


def require_run(path: str | Path) -> Path:
    """Check that ``path`` holds a finished or checkpointed run that can be read."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {path} does not exist.")
    if not (path / CONFIG).is_file():
        if is_run(path):
            raise RunDirError(
                f"{path} holds a run whose setup did not finish ({CONFIG} is missing); start it again "
                f"with glassgpt train --out {path} --overwrite."
            )
        raise RunDirError(f"{path} is not a glassgpt run directory (no {CONFIG}).")
    if weights_path(path) is None:
        raise RunDirError(
            f"{path} has no saved weights yet ({MODEL} is missing): it is still training, or it stopped "
            "before its first checkpoint; wait for a checkpoint, or start it again with --overwrite."
        )
    if not (path / TOKENIZER).is_file():
        raise RunDirError(f"{path} is incomplete: {TOKENIZER} is missing.")
    return path


def require_resumable(path: str | Path) -> Path:
    """Check that ``path`` holds a run ``--resume`` can continue, saying what to do otherwise."""
    path = Path(path)
    if not path.is_dir() or not is_run(path):
        raise RunDirError(f"nothing to resume in {path}: it holds no run (start one without --resume).")
    if not (path / CONFIG).is_file():
        raise RunDirError(
            f"nothing to resume in {path}: its setup did not finish ({CONFIG} is missing); "
            "start it again with --overwrite instead of --resume."
        )
    if not has_checkpoint(path):
        raise RunDirError(
            f"nothing to resume in {path}: the run stopped before its first checkpoint; "
            "start it again with --overwrite instead of --resume."
        )
    if not (path / TOKENIZER).is_file():
        raise RunDirError(f"{path} is incomplete: {TOKENIZER} is missing; start it again with --overwrite.")
    return path


def weights_path(path: Path) -> Path | None:
    """The run's weights: ``model.safetensors``, or the newest complete checkpoint's copy when
    there is no top-level file (a process died before the first copy) or it is an older copy
    (a process died between a checkpoint and its copy: ``checkpoint.stale``).  Read-only:
    nothing is moved (the next ``--resume`` copies the checkpoint's weights again)."""
    folder = checkpoint.newest(path)
    saved = folder / STATE_MODEL if folder is not None and (folder / STATE_MODEL).is_file() else None
    top = path / MODEL
    if top.is_file() and (saved is None or not checkpoint.stale(top, saved)):
        return top
    return saved
