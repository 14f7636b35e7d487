"""The JSON files and JSON-lines logs of a run directory.

``config.json`` and ``summary.json`` are whole JSON documents written atomically.
``metrics.jsonl``, ``samples.jsonl`` and ``diagnostics.jsonl`` grow by one JSON object per
line; a line torn by a killed process is skipped when reading, and a resume cuts every
log back to the step of its checkpoint (the steps after it are trained again).
"""

from __future__ import annotations

import json
from pathlib import Path

from glassgpt.errors import FileError, RunDirError
from glassgpt.fileio import append_text, atomic_write_text, read_json
from glassgpt.rundir.layout import CONFIG, METRICS, STEP_LOGS

#: the fields of a ``metrics.jsonl`` record that measure speed: they differ between two runs
#: that are otherwise identical (everything else repeats exactly for a fixed seed on a CPU)
TIMING_FIELDS = ("tokens_per_sec", "flops_per_sec", "mfu", "elapsed_s")


def without_timing(records: list[dict]) -> list[dict]:
    """``records`` with the timing fields left out, for comparing two runs."""
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def read_records(path: str | Path) -> list[dict]:
    """The JSON objects of a JSON-lines file, one per line; a missing file has none, and a line
    that is not an object (torn by a killed process) is skipped."""
    file = Path(path)
    if not file.is_file():
        return []
    records = []
    for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a run's ``metrics.jsonl`` (``path`` is the run directory) or of the
    JSON-lines file ``path``."""
    path = Path(path)
    return read_records(path / METRICS if path.is_dir() else path)


def append_record(path: str | Path, record: dict) -> None:
    """Add one JSON object as a line at the end of a JSON-lines file."""
    append_text(path, json.dumps(record) + "\n")


def truncate_logs(run_dir: str | Path, last_step: int) -> None:
    """Keep only the records up to ``last_step`` in every step log (a resume repeats the steps after it)."""
    for name in STEP_LOGS:
        file = Path(run_dir) / name
        if file.is_file():
            kept = [r for r in read_records(file) if r.get("step", 0) <= last_step]
            atomic_write_text(file, "".join(json.dumps(r) + "\n" for r in kept))


def read_config_dict(run_dir: str | Path) -> dict:
    """The raw ``config.json`` of a run, as a dict."""
    try:
        return read_json(Path(run_dir) / CONFIG, "run configuration")
    except FileError as exc:
        raise RunDirError(str(exc)) from None
