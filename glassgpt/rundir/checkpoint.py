"""Checkpoints that survive ``kill -9`` at any moment.

A checkpoint is the folder ``state/`` of the run directory:

- ``model.safetensors``    the weights (the run's top-level ``model.safetensors`` is a
                           hard link to it, for ``sample``/``eval``)
- ``optimizer.safetensors`` AdamW moments and step counts, by parameter name
- ``rng.safetensors``      torch random-generator states
- ``trainer.json``         step, tokens seen, elapsed time, data-loader RNG state.
                           Written last: its presence marks the checkpoint complete.

Saving writes a fresh ``state.new/``, fsyncs it, then swaps it in with renames
(``state`` → ``state.old``, ``state.new`` → ``state``) and deletes ``state.old``.
Whatever instant a process dies, one complete checkpoint remains; ``recover`` puts it
back under the name ``state/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import FileError, RunDirError
from ..fileio import fsync_dir, load_tensors, read_json, save_tensors, write_json
from .layout import MODEL, STATE_DIR, STATE_MODEL, STATE_NEW, STATE_OLD, STATE_OPTIMIZER, STATE_RNG, STATE_TRAINER

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
            _link_model(run_dir)
            return recover(run_dir)
    return None


def _link_model(run_dir: Path) -> None:
    """Point the top-level model.safetensors at the checkpoint's weights (atomic rename of a hard link)."""
    src, dst = run_dir / STATE / STATE_MODEL, run_dir / MODEL
    tmp = run_dir / ".model.safetensors.link"
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:  # file systems without hard links
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    fsync_dir(run_dir)


def save(run_dir: str | Path, weights: dict, optimizer: dict, rng: dict, trainer: dict) -> None:
    run_dir = Path(run_dir)
    new = run_dir / NEW
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    save_tensors(new / STATE_MODEL, weights)
    save_tensors(new / STATE_OPTIMIZER, optimizer)
    save_tensors(new / STATE_RNG, rng)
    write_json(new / STATE_TRAINER, trainer)  # last: marks the checkpoint complete
    fsync_dir(new)
    state, old = run_dir / STATE, run_dir / OLD
    if state.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(state, old)
    os.replace(new, state)
    fsync_dir(run_dir)
    shutil.rmtree(old, ignore_errors=True)
    _link_model(run_dir)


def load(run_dir: str | Path) -> tuple[dict, dict, dict, dict]:
    """(weights, optimizer, rng, trainer) of the run's last complete checkpoint."""
    state = recover(run_dir)
    if state is None:
        raise RunDirError(f"{run_dir} has no complete checkpoint to resume from; start the run again with --overwrite "
                          "(instead of --resume).")
    try:
        return (load_tensors(state / STATE_MODEL), load_tensors(state / STATE_OPTIMIZER, "optimizer state"),
                load_tensors(state / STATE_RNG, "RNG state"), read_json(state / STATE_TRAINER, "trainer state"))
    except FileError as exc:
        raise RunDirError(str(exc)) from None
