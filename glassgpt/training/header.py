"""What a run prints before its first step: the start-up header and warnings about the plan.

    glassgpt train → runs/baby-shakespeare (new run)
      model      baby: 4 layers, 4 heads, width 128, context 64 · 809,856 params
      device     cpu · 2 threads · float32 · torch engine · about 120 MB to train
      data       shakespeare: 4,783,056 characters → 4,304,750 train + 478,306 val tokens
      tokenizer  char · 75 ids
      schedule   lr 0.002 · warmup 100 steps · cosine decay to 0.0002 at step 900
      ends       step 900, or the 3:30 time budget if that comes first

The warnings say when a plan cannot do what it looks like it does: a run shorter than
its warmup never reaches its peak learning rate, and a resumed run longer than the
decay it was planned with trains its extra steps at the floor rate.
"""

from __future__ import annotations

from glassgpt.config import RunConfig
from glassgpt.models.factory import describe
from glassgpt.models.footprint import parameter_count, size_text, training_bytes
from glassgpt.progress import duration


def _lr(x: float) -> str:
    return f"{x:.3g}"


def plan_warnings(cfg: RunConfig, start_step: int = 0) -> list[str]:
    """Sentences about a schedule that does not do what its numbers suggest."""
    t = cfg.train
    notes = []
    if t.warmup_steps and t.max_steps < t.warmup_steps:
        peak = t.lr * t.max_steps / t.warmup_steps
        notes.append(
            f"warning: the run ends at step {t.max_steps:,}, before its {t.warmup_steps:,} warmup steps "
            f"are over, so the learning rate peaks at {_lr(peak)} and never reaches train.lr = {_lr(t.lr)} "
            "(lower train.warmup_steps to reach it)."
        )
    decay_end = t.decay_steps or t.max_steps
    if t.schedule != "constant" and decay_end < t.max_steps:
        first = max(decay_end, start_step)
        notes.append(
            f"note: the learning-rate decay ends at step {decay_end:,}, so steps {first:,}–{t.max_steps:,} "
            f"train at the floor rate {_lr(t.lr * t.min_lr_ratio)}; pass --set train.decay_steps="
            f"{t.max_steps} to stretch the decay over the whole run instead."
        )
    return notes


def header_lines(
    cfg: RunConfig,
    run_dir,
    source,
    device: str,
    threads: int,
    start_step: int,
    resumed: bool,
    dtype: str | None = None,
) -> list[str]:
    """The start-up header (see the module docstring) as lines of text (``source``: the run's
    ``DataSource``, which describes itself; ``dtype``: what the run computes in, when the
    device overrules ``train.dtype``)."""
    m, d, t = cfg.model, cfg.data, cfg.train
    seq_len = t.seq_len or m.block_size
    state = f"resuming at step {start_step:,}" if resumed else "new run"
    shape = describe(m)
    if seq_len != m.block_size:
        shape += f" (trained on {seq_len})"
    need = training_bytes(cfg, seq_len)["total"]
    decay = (
        f"{t.schedule} decay to {_lr(t.lr * t.min_lr_ratio)} at step {t.decay_steps or t.max_steps:,}"
        if t.schedule != "constant"
        else "constant after warmup"
    )
    if t.schedule == "step":
        end = t.decay_steps or t.max_steps
        decay = f"{_lr(t.lr * t.min_lr_ratio)} from step {max(t.warmup_steps, end - round(t.decay_fraction * end)):,}"
    if t.schedule_clock == "time" and t.schedule != "constant":  # the decay follows the budget, not the steps
        over = f"the last {t.decay_fraction:.0%} of" if t.schedule in ("wsd", "step") else ""
        decay = f"{t.schedule} decay to {_lr(t.lr * t.min_lr_ratio)} over {over or 'all of'} the time budget"
    schedule = f"lr {_lr(t.lr)} · " + (f"warmup {t.warmup_steps:,} steps · " if t.warmup_steps else "") + decay
    ends = f"step {t.max_steps:,}"
    if t.time_budget:
        ends += f", or the {duration(t.time_budget)} time budget if that comes first"
    return [
        f"glassgpt train → {run_dir} ({state})",
        f"  model      {cfg.preset or 'custom'}: {shape} · {parameter_count(m):,} params",
        f"  device     {device} · {threads} thread{'s' if threads != 1 else ''} · {dtype or t.dtype} · {t.engine} engine · "
        f"about {size_text(need)} to train",
        f"  data       {source.description}",
        f"  tokenizer  {d.tokenizer} · {source.tokenizer.vocab_size:,} ids",
        f"  schedule   {schedule}",
        f"  ends       {ends}",
    ]


def scale_lines(cfg: RunConfig, world_size: int, mode: str, speed, throughput) -> list[str]:
    """Header lines for several processes, the GPU switches that are off here, and the FLOPs
    figures MFU is computed from (nothing for a plain one-process CPU run)."""
    t = cfg.train
    seq_len = t.seq_len or cfg.model.block_size
    lines = []
    if world_size > 1 or t.tokens_per_step:
        per_step = t.batch_size * t.grad_accum * seq_len * world_size
        who = f"{world_size} ({mode})" if world_size > 1 else "1"
        lines.append(
            f"  processes  {who} · batch {t.batch_size} × {t.grad_accum} micro-batches × {world_size} × "
            f"{seq_len} tokens = {per_step:,} tokens per step"
        )
    if speed is not None and speed.note():
        lines.append(f"  speed      {speed.note()}")
    if throughput is not None and throughput.peak:
        lines.append(
            f"  mfu        {throughput.per_token / 1e6:,.1f} MFLOPs per token (6N + 12·L·H·Q·T) · "
            f"peak {throughput.peak / 1e12:,.1f} TFLOP/s per device"
        )
    return lines
