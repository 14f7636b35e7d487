"""The public Python API: what ``import glassgpt`` offers, one call per thing the CLI does.

    import glassgpt
    result = glassgpt.train("runs/poem", preset="poem")   # -> TrainResult (and plots/ + report.html)
    model, tokenizer = glassgpt.load("runs/poem")           # a torch GPT in eval mode + its tokenizer
    glassgpt.generate(model, tokenizer, "All that ", max_new_tokens=60, seed=0)
    run = glassgpt.load_run("runs/poem")                    # + config and trained context (64 for poem)
    glassgpt.generate(run.model, run.tokenizer, "All that ", max_context=run.trained_context)
    glassgpt.evaluate("runs/poem")                          # val_loss, perplexity, bits_per_byte

``train`` is the trainer's ``train`` plus the end-of-run figures and report; the report sits
above training in the layers, so the trainer itself never draws.  In a notebook,
``train(..., live=True)`` shows a live figure of the run (``glassgpt.notebook``), and
``train(..., log=["tensorboard", "wandb"])`` logs to experiment trackers (``glassgpt.tracking``);
both are callbacks on the training loop.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from glassgpt.generation.sampling import sample_text as generate
from glassgpt.notebook import LiveFigure, in_notebook
from glassgpt.rundir.layout import REPORT
from glassgpt.tracking import open_trackers
from glassgpt.training.launch import train as train_run
from glassgpt.training.result import TrainResult

if TYPE_CHECKING:  # imported on first use at run time: see __getattr__
    from glassgpt.evaluation.loss import evaluate_run as evaluate
    from glassgpt.models.from_run import load, load_run

__all__ = ["train", "load", "load_run", "generate", "evaluate", "TrainResult", "write_run_report"]


def __getattr__(name: str):
    """``evaluate``, ``load`` and ``load_run`` are imported on first use: ``glassgpt train``
    needs neither (they bring the ladder's models and the word lists), and every module
    it loads stays in its peak memory."""
    if name == "evaluate":
        from glassgpt.evaluation.loss import evaluate_run

        return evaluate_run
    if name in ("load", "load_run"):
        from glassgpt.models import from_run

        return getattr(from_run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_run_report(run_dir: str | Path, progress: bool = False) -> None:
    """Figures (``plots/``) and ``report.html`` at the end of a run; the environment variable
    ``GLASSGPT_REPORT=0`` turns them off.  The run is already saved, so a failure here
    costs one line on stderr, never the run.  ``progress`` shows what is being drawn."""
    if os.environ.get("GLASSGPT_REPORT", "1").strip() == "0":
        return
    try:
        from glassgpt.report import finish_run  # figures and HTML: imported only when drawn

        finish_run(run_dir, progress=progress)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the run must survive it
        print(
            f"note: the run is saved, but its report was not written ({exc.__class__.__name__}: {exc}).",
            file=sys.stderr,
        )


def train(
    out: str | Path, *args, report: bool = True, live: bool = False, log: str | list[str] | None = None, **kwargs
) -> TrainResult:
    """Train a GPT into the run directory ``out`` (see ``glassgpt.training.launch.train`` for the
    arguments), then write its figures and report unless ``report=False`` or the run was
    stopped by SIGTERM/SIGUSR1 (then it returns as soon as the checkpoint is saved).

    ``live=True``: in a notebook, a figure of the loss, learning rate and gradient norm that
    is redrawn as the run trains (every few seconds); anywhere else, the progress line.
    ``log``: experiment trackers, ``"tensorboard"`` and/or ``"wandb"`` (``"none"``: none; a
    resumed run without ``log`` continues the trackers it logged to), checked before the run
    starts and closed after the report is written."""
    trackers = open_trackers(log, out, resume=bool(kwargs.get("resume")))
    callbacks = [*kwargs.pop("callbacks", ()), *trackers.items]
    if live and in_notebook():
        callbacks.append(LiveFigure())
    elif live:
        kwargs["progress"] = True  # a terminal or a script: the progress line instead
    written, failed = None, True
    try:
        result = train_run(out, *args, callbacks=callbacks, **kwargs)
        if report and result.stopped_by != "terminated" and result.rank == 0:
            write_run_report(result.run_dir, progress=kwargs.get("progress", False))
            written = result.run_dir / REPORT
        failed = False
        return result
    finally:
        trackers.close(written, failed)
