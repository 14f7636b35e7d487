"""Claiming a folder for a new run, and checking that a folder holds a readable run.

A new run claims a folder only if it is new, empty, or (with ``overwrite``) holds an
earlier glassgpt run; a folder with other files is never touched.  Reading a run checks
every file it needs and says which one is missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import RunDirError
from .layout import CONFIG, MODEL, RUN_DIRS, RUN_FILES, STATE_DIR, STATE_NEW, STATE_OLD, STATE_TRAINER, TOKENIZER


def is_run(path: Path) -> bool:
    return (path / CONFIG).is_file() or any((path / d).is_dir() for d in (STATE_DIR, STATE_NEW, STATE_OLD))


def check_writable(path: Path) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(tmp)
    except OSError:
        raise RunDirError(f"the output directory {path} is not writable; choose another --out.") from None


def claim(path: str | Path, overwrite: bool = False) -> Path:
    """Make ``path`` ready for a new run, refusing anything that would lose a user's files."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"--out {path} is a file, not a directory; choose another --out.")
    if path.is_dir() and any(path.iterdir()):
        if not is_run(path):
            raise RunDirError(f"--out {path} is not empty and is not a glassgpt run; choose a new or empty directory.")
        if not overwrite:
            raise RunDirError(
                f"{path} already holds a run; pass --resume to continue it (if it has saved a checkpoint) "
                "or --overwrite to replace it."
            )
        check_writable(path)
        for name in RUN_FILES:
            (path / name).unlink(missing_ok=True)
        for name in RUN_DIRS:
            shutil.rmtree(path / name, ignore_errors=True)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create the output directory {path} ({exc.strerror}).") from None
    check_writable(path)
    return path


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
        raise RunDirError(f"{path} is not a glassgpt run directory (no {CONFIG}).")
    if weights_path(path) is None:
        raise RunDirError(f"{path} has no saved weights yet ({MODEL} is missing): it is still training, or it stopped "
                          "before its first checkpoint; wait for a checkpoint, or start it again with --overwrite.")
    if not (path / TOKENIZER).is_file():
        raise RunDirError(f"{path} is incomplete: {TOKENIZER} is missing.")
    return path


def weights_path(path: Path) -> Path | None:
    """The run's weights: ``model.safetensors``, or the last complete checkpoint's copy when a
    process died between writing the checkpoint and linking it (read-only: nothing is moved)."""
    if (path / MODEL).is_file():
        return path / MODEL
    for folder in (STATE_DIR, STATE_NEW, STATE_OLD):
        if (path / folder / STATE_TRAINER).is_file() and (path / folder / MODEL).is_file():
            return path / folder / MODEL
    return None
