"""The learning-rate finder (docs/curriculum.md, C2): one optimizer step at each of a log-spaced sweep
of learning rates, on fresh weights, recording the loss of every step (the loss of the
step's batch, measured before that step's update: the effect of everything learnt so far).

The loss falls slowly while the learning rate is too small, fastest in a useful range,
and blows up once it is too large.  A common rule of thumb — used for the suggestion
here — is a tenth of the learning rate where the smoothed loss was lowest.

The sweep uses the run's own model, data and optimizer settings (batch size, betas,
weight decay, clipping) with the weights initialised from the run's seed, so it never
touches the trained weights.  It stops early once the smoothed loss exceeds
``diverge`` × its minimum (or is not finite): beyond that point nothing more is learnt.

``find_lr(run_dir)`` writes ``lr_finder.json`` into the run directory, where the
``lr-finder`` figure and the report find it; ``find_lr(cfg, text=...)`` sweeps a
configuration that has no run directory yet and only returns the result.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from glassgpt import rundir
from glassgpt.config import RunConfig, derive, validate
from glassgpt.config.resolve import load_run_config
from glassgpt.data.open import open_source, reopen_source
from glassgpt.errors import ConfigError, FileError, RunDirError
from glassgpt.fileio import check_writable, write_json
from glassgpt.progress import task
from glassgpt.training.engines import TorchEngine, split_micro_batches

#: the most learning rates one sweep may try (each is one optimizer step)
MAX_SWEEP_STEPS = 100_000


def find_lr(
    source: str | Path | RunConfig,
    start: float = 1e-4,
    end: float = 1.0,
    steps: int = 100,
    *,
    text: str | None = None,
    diverge: float = 4.0,
    beta: float = 0.9,
    write: bool = True,
    progress: bool = False,
) -> dict:
    """Sweep ``steps`` learning rates from ``start`` to ``end`` (log-spaced), one optimizer
    step each, on fresh weights.  ``source`` is a run directory (its config and training
    tokens; the result is also written to ``DIR/lr_finder.json`` unless ``write=False``)
    or a ``RunConfig`` (its corpus, or ``text``; nothing is written).

    Returns ``{"lrs", "losses", "smoothed", "suggested_lr", "min_loss_lr", "stopped_early",
    "start", "end", "steps", "batch_size", "seq_len"}``; ``smoothed`` is the bias-corrected
    exponential moving average (``beta``) of the losses."""
    if not (0 < start < end and math.isfinite(end)):
        raise ConfigError(f"the learning-rate sweep needs 0 < start < end, got start={start:g}, end={end:g}.")
    if not 2 <= steps <= MAX_SWEEP_STEPS:
        raise ConfigError(f"the learning-rate sweep needs 2 to {MAX_SWEEP_STEPS:,} steps, got {steps:,}.")
    if isinstance(source, RunConfig):
        data = open_source(source, text)
        cfg, run_dir = validate(derive(source, data.facts())), None
    else:
        run_dir = Path(source)
        if not (run_dir / rundir.CONFIG).is_file():
            raise RunDirError(f"{run_dir} is not a glassgpt run directory (no {rundir.CONFIG}).")
        cfg = load_run_config(run_dir)
        data = reopen_source(cfg, run_dir)
        if write:
            try:  # before the sweep, not after it
                check_writable(run_dir, "the run directory", "make it writable, or copy the run and sweep the copy")
            except FileError as exc:
                raise RunDirError(f"cannot write {rundir.LR_FINDER}: {exc}") from None
    if cfg.model.arch == "bigram":
        raise ConfigError(
            "the counting bigram has no learning rate: its training is counting, so there is nothing to sweep."
        )
    t = cfg.train
    loader = data.batches(t.seed)  # the run's own batches, from its seed
    engine = TorchEngine(cfg)  # fresh weights from the run's seed
    lrs = np.logspace(math.log10(start), math.log10(end), steps)
    done, losses, smoothed = [], [], []
    avg, best, stopped_early = 0.0, math.inf, False
    with task("learning-rate sweep", steps, enabled=progress) as bar:
        for i, lr in enumerate(lrs):
            micro = split_micro_batches(*loader.next(t.batch_size * t.grad_accum), t.batch_size)
            loss = engine.train_step(micro, float(lr)).loss
            avg = beta * avg + (1 - beta) * loss
            smooth = avg / (1 - beta ** (i + 1))
            done.append(float(lr))
            losses.append(float(loss))
            smoothed.append(float(smooth))
            best = min(best, smooth)
            bar.advance(detail=f"lr {lr:.2e} · loss {smooth:.3f}")
            if not math.isfinite(smooth) or smooth > diverge * best:
                stopped_early = i < steps - 1
                break
    finite = [(s, lr) for s, lr in zip(smoothed, done) if math.isfinite(s)]
    min_loss_lr = min(finite)[1] if finite else done[0]
    result = {
        "start": start,
        "end": end,
        "steps": steps,
        "batch_size": t.batch_size * t.grad_accum,
        "seq_len": cfg.seq_len,
        "lrs": done,
        "losses": [_finite(v) for v in losses],
        "smoothed": [_finite(v) for v in smoothed],
        "min_loss_lr": min_loss_lr,
        "suggested_lr": min_loss_lr / 10,
        "stopped_early": stopped_early,
    }
    if run_dir is not None and write:
        write_json(run_dir / rundir.LR_FINDER, result)
    return result


def _finite(v: float) -> float | None:
    """JSON has no inf/nan: a diverged loss is stored as null."""
    return v if math.isfinite(v) else None
