"""Disk room: how much a run needs, refusing a run early when it will not fit, and the one
sentence a full, over-quota or read-only disk gets.

A checkpoint holds the weights and AdamW's two moments of every weight (three times the
weights) plus a few kilobytes of RNG and trainer state.  While a checkpoint is saved the
old one stays until the new one is complete, and the run's top-level ``model.safetensors``
is its own copy of the weights; so a new run needs room for its token cache, two
checkpoints and one more copy of the weights, and a resumed run for one more checkpoint.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from glassgpt.errors import DiskError

#: logs, JSON files, the tokenizer: room kept beyond the estimate
MARGIN = 1 << 20


def checkpoint_bytes(weight_bytes: int) -> int:
    """The size of one checkpoint (weights + two AdamW moments + RNG and trainer state)."""
    return 3 * weight_bytes + (64 << 10)


def new_run_bytes(weight_bytes: int, cache_bytes: int) -> int:
    """Room a new run needs: the token cache, two checkpoints and the top-level weights."""
    return cache_bytes + 2 * checkpoint_bytes(weight_bytes) + weight_bytes + MARGIN


def resume_bytes(weight_bytes: int) -> int:
    """Room a resumed run needs beyond what it already holds: one more checkpoint."""
    return checkpoint_bytes(weight_bytes) + MARGIN


def megabytes(n: int) -> str:
    """A size as people read it, exact below a kilobyte: "0 bytes", "1 byte", "512 bytes",
    "4.1 kB", "3.2 MB", "1,234 MB"."""
    if n < 1000:
        return f"{n} byte" + ("" if n == 1 else "s")
    if n < 1e6:
        return f"{n / 1e3:.1f} kB"
    return f"{n / 1e6:.1f} MB" if n < 10e6 else f"{n / 1e6:,.0f} MB"


def free_bytes(path: str | Path) -> int:
    """Free bytes on the file system that holds ``path`` (or would hold it: the nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def require_room(path: str | Path, needed: int, what: str, then: str, freed: int = 0) -> None:
    """Refuse with one sentence when the disk holding ``path`` has less than ``needed`` bytes
    free, counting ``freed`` bytes that are removed first (the run ``--overwrite`` replaces)."""
    free = free_bytes(path) + freed
    if free < needed:
        counting = " (counting the run it replaces)" if freed else ""
        raise DiskError(
            f"the disk holding {path} has {megabytes(free)} free{counting}, but ~{megabytes(needed)} is needed "
            f"for {what}; free space and {then}.",
            str(path),
            "full",
        )


def disk_message(exc: DiskError, run_dir: str | Path, needed: int, what: str, then: str) -> DiskError:
    """The sentence for a write the disk refused (``exc``), naming the run, the room ``what``
    needs and what to run afterwards (``then``)."""
    size = f" (needs ~{megabytes(needed)} for {what})"
    if exc.reason == "read-only":
        text = f"the file system holding {run_dir} is read-only; make it writable and {then}."
    elif exc.reason == "quota":
        text = f"your disk quota on the disk holding {run_dir} is used up{size}; free space and {then}."
    else:
        text = f"the disk holding {run_dir} is full{size}; free space and {then}."
    return DiskError(text, exc.path, exc.reason)
