"""Figures and the self-contained HTML run report.

Library use::

    from glassgpt.report import render, write_report
    render("runs/poem")                    # every figure into runs/poem/plots/*.png
    render("runs/poem", "attention", prompt="All that ")
    compare_runs("runs/mlp", "runs/mlp-fixes")  # two runs side by side, one picture
    write_report("runs/poem")              # runs/poem/report.html (figures inline)

``finish_run`` is what the trainer calls at the end of every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from glassgpt.report.figures import FIGURES, DrawnFigure, render  # isort: skip  (first: its figures come first in the report)
from glassgpt.makemore import figures as ladder_figures  # noqa: F401  (registers the ladder's figures)
from glassgpt.report.compare import compare_runs
from glassgpt.report.html import ReportResult, write_report
from glassgpt.report.rundata import MissingData, RunData

__all__ = [
    "FIGURES",
    "MissingData",
    "compare_runs",
    "DrawnFigure",
    "ReportResult",
    "RunData",
    "finish_run",
    "render",
    "write_report",
]


def finish_run(run_dir: str | Path, progress: bool = False) -> ReportResult:
    """Write ``plots/`` and ``report.html`` for a run that just ended.  A missing
    matplotlib costs the figures and one line on stderr, never the report."""
    result = write_report(run_dir, progress=progress)
    for line in result.notes:
        print(f"note: {line}", file=sys.stderr)
    return result
