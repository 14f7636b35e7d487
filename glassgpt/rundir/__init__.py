"""The run-directory layer: every file name of a run and the reading and writing of its files.

- ``layout``      the file names (``CONFIG``, ``MODEL``, ``METRICS`` …)
- ``directory``   claiming a folder for a new run, checking that a folder holds a readable run
- ``records``     the JSON files and JSON-lines logs (config, metrics, samples, diagnostics …)
- ``checkpoint``  ``state/``: weights, optimizer, RNG and trainer state that survive ``kill -9``
- ``lock``        the writer lock: one process at a time changes a run directory
- ``space``       the room a run needs, and the sentence for a full or read-only disk

Everything above this layer (training, sampling, evaluation, the report) names run files
only through these modules.
"""

from glassgpt.rundir import lock, space
from glassgpt.rundir.directory import (
    NewRun,
    check_new,
    claim,
    has_checkpoint,
    is_run,
    require_resumable,
    require_run,
    unfinished_setup,
    unique_default,
    weights_path,
)
from glassgpt.rundir.layout import (
    CONFIG,
    DATA_DIR,
    DIAGNOSTICS,
    LOCK,
    LR_FINDER,
    METRICS,
    MODEL,
    PLOTS_DIR,
    REPORT,
    SAMPLES,
    SUMMARY,
    TOKENIZER,
    WORDS,
)
from glassgpt.rundir.records import (
    TIMING_FIELDS,
    append_record,
    read_config_dict,
    read_metrics,
    read_records,
    truncate_logs,
    without_timing,
)

__all__ = [
    "CONFIG",
    "DATA_DIR",
    "DIAGNOSTICS",
    "LOCK",
    "LR_FINDER",
    "METRICS",
    "MODEL",
    "PLOTS_DIR",
    "REPORT",
    "SAMPLES",
    "SUMMARY",
    "TOKENIZER",
    "WORDS",
    "NewRun",
    "append_record",
    "check_new",
    "claim",
    "has_checkpoint",
    "is_run",
    "lock",
    "read_config_dict",
    "read_metrics",
    "read_records",
    "require_resumable",
    "require_run",
    "space",
    "truncate_logs",
    "unfinished_setup",
    "unique_default",
    "weights_path",
    "TIMING_FIELDS",
    "without_timing",
]
