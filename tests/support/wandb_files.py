"""Reading what W&B wrote offline, without W&B's service or the network: the records of an
offline run's ``run-<id>.wandb`` file, and its media files.

The ``.wandb`` file is a LevelDB-style log: a 7-byte header (``:W&B``, magic 0xBEE1, version 0),
then 32 KiB blocks of chunks, each a 7-byte header (checksum, length, type: 1 whole, 2 first,
3 middle, 4 last) and its bytes; a block's last 6 bytes or fewer are padding.  Each record is
a ``wandb_internal_pb2.Record`` protobuf.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list:
    """The protobuf records of one ``.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B" and struct.unpack("<HB", data[4:7]) == (0xBEE1, 0), f"{path} is not a W&B log"
    chunks, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0:  # the rest of a block that was never written
            pos += left
            continue
        chunk, pos = data[pos + HEADER : pos + HEADER + length], pos + HEADER + length
        if kind == FULL:
            chunks.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        else:
            chunks.append(pending + chunk)
    out = []
    for chunk in chunks:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        out.append(record)
    return out


@dataclass
class OfflineRun:
    """One offline session of a W&B run: its id, config, history rows and summary."""

    folder: Path
    run_id: str = ""
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def media(self, kind: str) -> list[Path]:
        """The media files W&B saved (``table``, ``html``)."""
        return sorted((self.folder / "files" / "media" / kind).glob("*"))


def read_offline(folder: Path) -> OfflineRun:
    """What one ``offline-run-*`` folder holds."""
    run = OfflineRun(folder)
    (log,) = folder.glob("run-*.wandb")
    for record in records(log):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id = record.run.run_id
            run.config.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            run.config.update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in record.history.item}
            run.history.append(row)
        elif kind == "summary":
            run.summary.update({i.key: json.loads(i.value_json) for i in record.summary.update if i.key})
    return run


def finished(folder: Path) -> bool:
    """Whether W&B's service has written a session's log to its end (the ``exit`` record)."""
    logs = list(folder.glob("run-*.wandb"))
    if len(logs) != 1 or logs[0].stat().st_size <= HEADER:
        return False
    found = records(logs[0])
    return bool(found) and found[-1].WhichOneof("record_type") == "exit"


def offline_runs(run_dir: Path, wait_s: float = 120.0) -> list[OfflineRun]:
    """Every offline session W&B wrote into a glassgpt run's ``wandb/`` folder, oldest first.
    ``run.finish()`` returns before W&B's service has written the file, so this waits (up to
    ``wait_s``) until each one ends with its ``exit`` record."""
    folders = sorted((run_dir / "wandb").glob("offline-run-*"))
    deadline = time.monotonic() + wait_s
    while not all(finished(f) for f in folders) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [read_offline(f) for f in folders]
