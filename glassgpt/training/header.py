"""What a run prints before its first step: the start-up header and warnings about the plan.

    glassgpt train → runs/baby-shakespeare (new run)
      model      baby: 4 layers, 4 heads, width 128, context 64 · 809,856 params
      device     cpu · 2 threads · float32 · torch engine · about 120 MB to train
      data       shakespeare: 4,783,056 characters → 4,304,750 train + 478,306 val tokens
      tokenizer  char · 75 ids
      schedule   lr 0.002 · warmup 100 steps · cosine decay to 0.0002 at step 900
      ends       step 900, or the 3:30 time budget if that comes first

The warnings say when a plan cannot do what it looks like it does: a run shorter than
its warmup never reaches its peak learning rate, a resumed run longer than the decay it
was planned with trains its extra steps at the floor rate, and a model far too large for
this device: its training needs more than half the device's memory
(``models.footprint.training_bytes``), or its time budget holds less than half of its
steps even at an optimistic speed (``training.flops.flops_per_token`` × the tokens of a
step, at ``CPU_FLOPS_PER_THREAD`` per CPU thread or a GPU's peak from ``training.flops``).
Each such warning says what to change; when the vocabulary holds most of the parameters
(a prepared corpus with a 100,277-id tokenizer under the ``baby`` preset), that is the
tokenizer.
"""

from __future__ import annotations

import torch

from glassgpt.config import RunConfig
from glassgpt.device import memory_of, pick_device
from glassgpt.models.factory import describe
from glassgpt.models.footprint import parameter_count, size_text, trainable_count, training_bytes
from glassgpt.progress import duration
from glassgpt.training.flops import flops_per_token, peak_flops, precision

#: an optimistic float32 training speed of one CPU thread (FLOP/s): a one-thread 1024³ matmul
#: measured 76–110 GFLOP/s on the project's 2-core machines (docs/benchmarks.md, docs/scale.md)
#: and a training step reaches a fraction of that, so a step predicted from it is a lower bound
CPU_FLOPS_PER_THREAD = 100e9
#: warn when the time budget holds less than this share of the run's steps at that speed
FAR = 0.5
#: warn when training needs more than this share of the device's memory
MEMORY_SHARE = 0.5


def _lr(x: float) -> str:
    return f"{x:.3g}"


def plan_warnings(
    cfg: RunConfig, start_step: int = 0, device: torch.device | None = None, threads: int | None = None
) -> list[str]:
    """Sentences about a schedule that does not do what its numbers suggest, and about a model
    far from what ``device`` (default: the run's) with ``threads`` CPU threads (default: torch's
    now) can train in the run's budget."""
    t = cfg.train
    notes = _size_warnings(cfg, device or pick_device(t.device), threads or torch.get_num_threads())
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


def _advice(cfg: RunConfig) -> str:
    """What to change when a model is too large for the device: the tokenizer when the
    vocabulary holds most of the parameters, else the preset or the model's settings."""
    m = cfg.model
    params = parameter_count(m)
    table = m.ensemble * m.padded_vocab_size * m.n_embd * (1 if m.tie_weights else 2)
    if table > params / 2:
        return (
            f"the {m.vocab_size:,}-id vocabulary holds {table / params:.0%} of the parameters: use a smaller "
            "tokenizer (char, byte or a BPE of a few thousand ids; for a prepared corpus, prepare it again "
            "with one)"
        )
    smaller = "" if cfg.preset == "baby" else "a smaller preset (e.g. --preset baby), "
    return (
        f"choose {smaller}smaller model settings (--set model.n_layer=... model.n_embd=...), fewer "
        "--max-steps or a longer --time-budget"
    )


def _flops_per_second(cfg: RunConfig, device: torch.device, threads: int) -> tuple[float, str] | None:
    """(an optimistic training speed in FLOP/s, the device in words); None where none is known."""
    if device.type == "cpu":
        return threads * CPU_FLOPS_PER_THREAD, f"{threads} CPU thread{'s' if threads != 1 else ''}"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = cfg.train.peak_flops or peak_flops(name, precision(cfg.train.dtype, cfg.train.tf32))
        return (peak, name) if peak else None
    return None


def _size_warnings(cfg: RunConfig, device: torch.device, threads: int) -> list[str]:
    """A model whose training needs most of the device's memory, or whose steps its time
    budget cannot hold even at an optimistic speed (see the module docstring)."""
    m, t = cfg.model, cfg.train
    if m.arch != "gpt":
        return []
    notes = []
    seq_len = t.seq_len or m.block_size
    need = training_bytes(cfg, seq_len)["total"]
    available, has = memory_of(device)
    if available and need > MEMORY_SHARE * available:
        notes.append(
            f"warning: training this model needs about {size_text(need)} of memory and {has} "
            f"{size_text(available)}; {_advice(cfg)}."
        )
    rate = _flops_per_second(cfg, device, threads)
    if t.time_budget and rate:
        tokens = t.batch_size * t.grad_accum * seq_len
        step_flops = flops_per_token(m, seq_len) * tokens
        fit = int(t.time_budget * rate[0] / step_flops)
        by_steps = t.schedule_clock == "steps"
        planned = t.max_steps if by_steps else t.warmup_steps
        if fit < FAR * planned:
            notes.append(
                f"warning: the {duration(t.time_budget)} time budget holds at most about {fit:,} of the "
                f"{planned:,} {'steps' if by_steps else 'warmup steps'} on {rate[1]} (a step computes "
                f"{step_flops / 1e9:,.0f} GFLOP: {parameter_count(m):,} parameters × {tokens:,} tokens, at "
                f"least {step_flops / rate[0]:.2g} s even at {rate[0] / 1e9:,.0f} GFLOP/s); {_advice(cfg)}."
            )
    return notes


def params_text(m) -> str:
    """ "809,856 params", or with LoRA adapters what they train: "trains 12,288 of 822,144 params (1.49%)"."""
    total, trained = parameter_count(m), trainable_count(m)
    if trained == total:
        return f"{total:,} params"
    return f"trains {trained:,} of {total:,} params ({trained / total:.2%}: LoRA rank {m.lora_rank})"


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
    lines = [
        f"glassgpt train → {run_dir} ({state})",
        f"  model      {cfg.preset or 'custom'}: {shape} · {params_text(m)}",
        f"  device     {device} · {threads} thread{'s' if threads != 1 else ''} · {dtype or t.dtype} · {t.engine} engine · "
        f"about {size_text(need)} to train",
        f"  data       {source.description}",
        f"  tokenizer  {d.tokenizer} · {source.tokenizer.vocab_size:,} ids",
        f"  schedule   {schedule}",
        f"  ends       {ends}",
    ]
    if t.adaptive_threads:
        lines.append(
            "note: the training threads follow the machine's load; the run reproduces only at the same counts."
        )
    return lines


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
