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
copy, edit or replace) is a separate copy, written atomically after each swap; a LoRA run
also gets its adapters alone, ``adapters.safetensors``.  Resuming
reads ``state/`` only, so nothing done to the top-level file can reach the checkpoint.

Both weight files record the checkpoint's step in their safetensors metadata (``"step"``).  A
process killed between the swap and the copy leaves a top-level file one checkpoint older:
readers then take the checkpoint's copy instead (``stale``, used by ``weights_path``), and the
next start (``recover``, under the writer lock) copies it again, whenever the top-level file
differs from the checkpoint's.  ``recover`` also removes the temporary files killed atomic
writes left beside the run's files (``.model.safetensors.<random>.tmp``: a full-size copy of
the weights), by the run's own names only (``layout.SCRATCH``).
"""

from __future__ import annotations

import filecmp
import fnmatch
import json
import os
import shutil
from pathlib import Path

from glassgpt.errors import FileError, RunDirError
from glassgpt.fileio import atomic_copy, disk_error, fsync_dir, load_tensors, read_json, save_tensors, write_json
from glassgpt.rundir.layout import (
    ADAPTER_MARK,
    ADAPTERS,
    MODEL,
    SCRATCH,
    STATE_DIR,
    STATE_MODEL,
    STATE_NEW,
    STATE_OLD,
    STATE_OPTIMIZER,
    STATE_RNG,
    STATE_TRAINER,
)

STATE, NEW, OLD = STATE_DIR, STATE_NEW, STATE_OLD
#: the safetensors metadata key both weight files record the checkpoint's step under
STEP_KEY = "step"


def _complete(folder: Path) -> bool:
    return (folder / STATE_TRAINER).is_file()


def _settle(run_dir: Path) -> Path | None:
    """Finish an interrupted swap: the complete ``state/`` folder, or None."""
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
            return _settle(run_dir)
    return None


def remove_scratch(run_dir: str | Path) -> list[str]:
    """Remove the temporary files a killed writer left in the run directory (``layout.SCRATCH``:
    only names the run itself makes, never a user's file); returns their names."""
    run_dir = Path(run_dir)
    removed = []
    for entry in sorted(run_dir.iterdir()):
        if any(fnmatch.fnmatch(entry.name, pattern) for pattern in SCRATCH) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def recover(run_dir: str | Path) -> Path | None:
    """Return the complete ``state/`` folder after finishing any interrupted swap, removing the
    temporary files killed writes left and copying the checkpoint's weights to the top-level
    file whenever that differs (missing, older, damaged, edited); None without a checkpoint.
    The caller holds the writer lock."""
    run_dir = Path(run_dir)
    state = _settle(run_dir)
    remove_scratch(run_dir)
    if state is not None:
        top = run_dir / MODEL
        if not top.is_file() or not filecmp.cmp(state / STATE_MODEL, top, shallow=False):
            publish_weights(run_dir)
    return state


def _header(path: Path) -> dict | None:
    """The JSON header of a safetensors file (an 8-byte little-endian length, then the JSON:
    tensor name -> dtype, shape and offsets, and ``__metadata__``), None when unreadable."""
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 1 < size <= min(100_000_000, os.fstat(f.fileno()).st_size - 8):
                return None
            header = json.loads(f.read(size))
    except (OSError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _step(header: dict | None) -> int | None:
    meta = header.get("__metadata__") if header else None
    step = meta.get(STEP_KEY) if isinstance(meta, dict) else None
    return int(step) if isinstance(step, str) and step.isdigit() else None


def weights_step(path: str | Path) -> int | None:
    """The checkpoint step a weights file records (None: not recorded, or unreadable)."""
    return _step(_header(Path(path)))


def stale(top: str | Path, saved: str | Path) -> bool:
    """Whether ``top`` is an older copy of the checkpoint's weights ``saved``: the same tensors
    (names, dtypes, shapes) at an earlier step.  A file from elsewhere (other tensors, no step)
    is the user's, never stale."""
    a, b = _header(Path(top)), _header(Path(saved))
    if a is None or b is None or _step(a) is None or _step(b) is None or _step(a) >= _step(b):
        return False

    def tensors(header: dict) -> dict:
        return {k: (v.get("dtype"), v.get("shape")) for k, v in header.items() if k != "__metadata__"}

    return tensors(a) == tensors(b)


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
        step = trainer.get("step")
        save_tensors(new / STATE_MODEL, weights, {STEP_KEY: str(step)} if isinstance(step, int) else None)
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
    adapters = {name: t for name, t in weights.items() if ADAPTER_MARK in name}
    if adapters:  # a LoRA run: its adapters alone as well, the small file to share
        save_tensors(run_dir / ADAPTERS, adapters)


def newest(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder, the one ``recover`` would keep, found without
    changing anything (for readers, who hold no lock): None when there is none."""
    run_dir = Path(run_dir)
    if _complete(run_dir / STATE):
        return run_dir / STATE
    return next((folder for folder in (run_dir / NEW, run_dir / OLD) if _complete(folder)), None)


def saved_step(run_dir: str | Path) -> int | None:
    """The step of the newest complete checkpoint, read without changing anything (None when
    there is none or its trainer state cannot be read)."""
    folder = newest(run_dir)
    if folder is None:
        return None
    try:
        step = read_json(folder / STATE_TRAINER, "trainer state").get("step")
    except (FileError, AttributeError):
        return None
    return step if isinstance(step, int) else None


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
