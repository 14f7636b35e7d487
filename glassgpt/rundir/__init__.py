"""The run-directory layer: every file name of a run and the reading and writing of its files.

- ``layout``      the file names (``CONFIG``, ``MODEL``, ``METRICS`` …)
- ``directory``   claiming a folder for a new run, checking that a folder holds a readable run
- ``records``     the JSON files and JSON-lines logs (config, metrics, samples, diagnostics …)
- ``checkpoint``  ``state/``: weights, optimizer, RNG and trainer state that survive ``kill -9``

Everything above this layer (training, sampling, evaluation, the report) names run files
only through these modules.
"""

from .directory import claim, is_run, require_run, unique_default, weights_path
from .layout import (
                     CONFIG,
                     DATA_DIR,
                     DIAGNOSTICS,
                     LR_FINDER,
                     METRICS,
                     MODEL,
                     PLOTS_DIR,
                     REPORT,
                     SAMPLES,
                     SUMMARY,
                     TOKENIZER,
)
from .records import append_record, read_config_dict, read_metrics, read_records, truncate_logs

__all__ = ["CONFIG", "DATA_DIR", "DIAGNOSTICS", "LR_FINDER", "METRICS", "MODEL", "PLOTS_DIR", "REPORT", "SAMPLES",
           "SUMMARY", "TOKENIZER", "append_record", "claim", "is_run", "read_config_dict", "read_metrics", "read_records",
           "require_run", "truncate_logs", "unique_default", "weights_path"]
