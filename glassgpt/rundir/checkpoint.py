"""Checkpoints that survive ``kill -9`` at any moment.

A checkpoint is the folder ``state/`` of the run directory:

- ``model.safetensors``    the weights
- ``optimizer.safetensors`` AdamW moments and step counts, by parameter name
- ``rng.safetensors``      torch random-generator states
- ``trainer.json``         step, tokens seen, elapsed time, data-loader RNG state.
                           Written last: its presence marks the checkpoint complete.

Saving writes a fresh ``state.new/``, fsyncs it, then swaps it in with renames
(``state`` → ``state.old``, ``state.new`` → ``state``) and deletes ``state.old``.
Whatever instant a process dies, one complete checkpoint remains; ``recover`` puts it
back under the name ``state/``.  A save that fails (a full disk) removes its ``state.new/``
and leaves the previous checkpoint as it was.

The run's top-level ``model.safetensors`` (what ``sample`` and ``eval`` read, and what users
copy, edit or replace) is a separate copy, written atomically after each swap.  Resuming
reads ``state/`` only, so nothing done to the top-level file can reach the checkpoint.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from glassgpt.errors import FileError, RunDirError
from glassgpt.fileio import atomic_copy, disk_error, fsync_dir, load_tensors, read_json, save_tensors, write_json
from glassgpt.rundir.layout import (
    MODEL,
    STATE_DIR,
    STATE_MODEL,
    STATE_NEW,
    STATE_OLD,
    STATE_OPTIMIZER,
    STATE_RNG,
    STATE_TRAINER,
)

STATE, NEW, OLD = STATE_DIR, STATE_NEW, STATE_OLD


def _complete(folder: Path) -> bool:
    return (folder / STATE_TRAINER).is_file()


def recover(run_dir: str | Path) -> Path | None:
    """Return the complete ``state/`` folder after finishing any interrupted swap, or None."""
    run_dir = Path(run_dir)
    state, new, old = run_dir / STATE, run_dir / NEW, run_dir / OLD
    if _complete(state):
        for leftover in (new, old):
            shutil.rmtree(leftover, ignore_errors=True)
        return state
    for candidate in (new, old):  # the newest complete one wins
        if _complete(candidate):
            shutil.rmtree(state, ignore_errors=True)
            os.replace(candidate, state)
            fsync_dir(run_dir)
            publish_weights(run_dir)
            return recover(run_dir)
    return None


def publish_weights(run_dir: str | Path) -> None:
    """Copy the checkpoint's weights to the run's top-level ``model.safetensors`` (atomically,
    as an independent file: editing one never changes the other)."""
    run_dir = Path(run_dir)
    atomic_copy(run_dir / STATE / STATE_MODEL, run_dir / MODEL)


def save(run_dir: str | Path, weights: dict, optimizer: dict, rng: dict, trainer: dict) -> None:
    """Write a complete new checkpoint, swap it in, then refresh the top-level weights.

    An error while writing (``DiskError`` for a full disk) removes the half-written
    ``state.new/``; the previous checkpoint is untouched."""
    run_dir = Path(run_dir)
    new = run_dir / NEW
    try:
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        save_tensors(new / STATE_MODEL, weights)
        save_tensors(new / STATE_OPTIMIZER, optimizer)
        save_tensors(new / STATE_RNG, rng)
        write_json(new / STATE_TRAINER, trainer)  # last: marks the checkpoint complete
        fsync_dir(new)
    except Exception as exc:
        shutil.rmtree(new, ignore_errors=True)
        raise (disk_error(exc, new) or exc) from None
    state, old = run_dir / STATE, run_dir / OLD
    if state.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(state, old)
    os.replace(new, state)
    fsync_dir(run_dir)
    shutil.rmtree(old, ignore_errors=True)
    publish_weights(run_dir)


def saved_step(run_dir: str | Path) -> int | None:
    """The step of the newest complete checkpoint, read without changing anything (None when
    there is none or its trainer state cannot be read)."""
    run_dir = Path(run_dir)
    for folder in (run_dir / NEW, run_dir / STATE, run_dir / OLD):  # the order recover() prefers
        if _complete(folder) and (folder is not run_dir / NEW or not _complete(run_dir / STATE)):
            try:
                step = read_json(folder / STATE_TRAINER, "trainer state").get("step")
            except (FileError, AttributeError):
                return None
            return step if isinstance(step, int) else None
    return None


def load(run_dir: str | Path) -> tuple[dict, dict, dict, dict]:
    """(weights, optimizer, rng, trainer) of the run's last complete checkpoint."""
    state = recover(run_dir)
    if state is None:
        raise RunDirError(
            f"{run_dir} has no complete checkpoint to resume from; start the run again with --overwrite "
            "(instead of --resume)."
        )
    try:
        return (
            load_tensors(state / STATE_MODEL),
            load_tensors(state / STATE_OPTIMIZER, "optimizer state"),
            load_tensors(state / STATE_RNG, "RNG state"),
            read_json(state / STATE_TRAINER, "trainer state"),
        )
    except FileError as exc:
        raise RunDirError(str(exc)) from None
