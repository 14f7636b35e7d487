"""``trackers.json``: which trackers a run logs to, and what resuming into the same tracker
run needs (the W&B run id), so ``--resume`` continues them.

    {"tensorboard": {"log_dir": "tensorboard"}, "wandb": {"id": "3kq9x2ab", "project": "glassgpt"}}

Each tracker adds its entry when its first session starts; the file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glassgpt.errors import FileError, RunDirError
from glassgpt.fileio import read_json, write_json
from glassgpt.rundir.layout import TRACKERS


def stored_trackers(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The entries of ``trackers.json`` (none when the run never logged to a tracker)."""
    path = Path(run_dir) / TRACKERS
    if not path.is_file():
        return {}
    try:
        data = read_json(path, "tracker file")
    except FileError:
        data = None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RunDirError(f"the tracker file {path} is corrupted; delete it to start new tracker runs.")
    return data


def store_tracker(run_dir: str | Path, name: str, entry: dict[str, Any]) -> None:
    """Record ``name``'s entry in ``trackers.json``, keeping the other trackers' entries."""
    entries = stored_trackers(run_dir)
    if entries.get(name) != entry:
        write_json(Path(run_dir) / TRACKERS, {**entries, name: entry})
