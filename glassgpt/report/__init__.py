"""Figures and the self-contained HTML run report.

Library use::

    from glassgpt.report import render, write_report
    render("runs/poem")                    # every figure into runs/poem/plots/*.png
    render("runs/poem", "attention", prompt="All that ")
    write_report("runs/poem")              # runs/poem/report.html (figures inline)

``finish_run`` is what the trainer calls at the end of every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .figures import FIGURES, Rendered, render
from .html import ReportResult, write_report
from .rundata import MissingData, RunData

__all__ = ["FIGURES", "MissingData", "Rendered", "ReportResult", "RunData", "finish_run", "render", "write_report"]


def finish_run(run_dir: str | Path, progress: bool = False) -> ReportResult:
    """Write ``plots/`` and ``report.html`` for a run that just ended.  A missing
    matplotlib costs the figures and one line on stderr, never the report."""
    result = write_report(run_dir, progress=progress)
    for line in result.notes:
        print(f"note: {line}", file=sys.stderr)
    return result
