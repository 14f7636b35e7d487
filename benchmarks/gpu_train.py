"""The GPT-2 (124M) recipe on one GPU: tokens/s, ms per step and MFU; and a tiny model's first
five losses on the GPU (float32) against the CPU.  One JSON line.

    python benchmarks/gpu_train.py [--steps 8] [--batch-size 32] [--time-limit 420] [--no-compile]

The model, optimizer and step are the library's: ``glassgpt.config.resolve("gpt2")`` (12 layers,
12 heads, width 768, context 1024, vocabulary 50,257 padded to 50,304, AdamW (0.9, 0.95) fused,
bf16 autocast, TF32, torch.compile, flash attention, 524,288 tokens per step) run through
``TorchEngine.train_step``, the call ``glassgpt train`` makes every step.  The tokens are
random ids (GPT-2's ranks do not ship offline, and a step's speed does not depend on the
text).  The first step (compilation) and one more are warm-up; the figures are the median of
the timed steps.  MFU = tokens/s × FLOPs per token (6N + 12·L·H·Q·T,
``glassgpt.training.flops``) ÷ the GPU's dense bf16 peak from the library's table
(``--peak-tflops`` overrides it).

Without a CUDA GPU it prints ``{"status": "skipped", ...}`` and exits 0.  ``--time-limit``
bounds the whole script: timed steps stop when the next one would not fit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch

from glassgpt.config import resolve
from glassgpt.config.derive import grad_accum
from glassgpt.training.engines import TorchEngine, split_micro_batches
from glassgpt.training.flops import flops_per_token, mfu, peak_flops, precision

GPT2_VOCAB = 50257


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def tiny_losses(device: str, steps: int = 5) -> list[float]:
    """The first ``steps`` losses of a tiny fp32 model on ``device`` (same seed, same batches)."""
    cfg = resolve(
        "baby",
        overrides={
            "train.device": device,
            "train.dtype": "float32",
            "train.tf32": "false",
            "train.compile": "false",
            "model.n_layer": 2,
            "model.n_embd": 64,
            "model.n_head": 4,
            "model.block_size": 32,
        },
    )
    cfg = cfg.updated({"model.vocab_size": 65})
    engine = TorchEngine(cfg)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(steps):
        x = rng.integers(0, 65, (8, 32))
        y = rng.integers(0, 65, (8, 32))
        out.append(engine.train_step(split_micro_batches(x, y, 8), 1e-3).loss)
    return out


def gpt2_speed(args, deadline: float) -> dict:
    overrides = {"train.batch_size": args.batch_size}
    if args.no_compile:
        overrides["train.compile"] = "false"
    cfg = resolve("gpt2", overrides=overrides)
    cfg = cfg.updated({"model.vocab_size": GPT2_VOCAB})
    T = cfg.model.block_size
    cfg = cfg.updated({"train.grad_accum": grad_accum(cfg, 1)})
    engine = TorchEngine(cfg)
    rng = np.random.default_rng(0)
    B, A = cfg.train.batch_size, cfg.train.grad_accum
    x = rng.integers(0, GPT2_VOCAB, (B * A, T))
    y = rng.integers(0, GPT2_VOCAB, (B * A, T))
    micro = split_micro_batches(x, y, B)
    times, first = [], None
    for step in range(args.steps + 2):
        torch.cuda.synchronize()
        start = time.perf_counter()
        engine.train_step(micro, cfg.train.lr)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        if step == 0:
            first = seconds
        elif step >= 2:
            times.append(seconds)
        if time.monotonic() + seconds > deadline:  # the next step would not fit
            break
    if not times:
        return {"status": "incomplete", "first_step_s": first, "why": "the time limit ended before a timed step"}
    step_s = statistics.median(times)
    tokens = B * A * T
    per_token = flops_per_token(cfg.model, T)
    name = torch.cuda.get_device_name(0)
    column = precision(engine.speed.dtype, engine.speed.tf32)
    peak = args.peak_tflops * 1e12 if args.peak_tflops else peak_flops(name, column)
    tps = tokens / step_s
    return {
        "status": "ok",
        "gpu": name,
        "precision": column,
        "compile": engine.speed.compile,
        "flash": engine.speed.flash,
        "batch_size": B,
        "grad_accum": A,
        "tokens_per_step": tokens,
        "timed_steps": len(times),
        "first_step_s": round(first, 2),
        "ms_per_step": round(step_s * 1000, 1),
        "tokens_per_sec": round(tps),
        "flops_per_token": per_token,
        "peak_tflops": peak / 1e12 if peak else None,
        "mfu": round(mfu(tps, per_token, peak), 4) if peak else None,
        "max_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=8, help="timed steps after two warm-up steps")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per micro-batch")
    p.add_argument("--time-limit", type=float, default=420.0, help="seconds for the whole script")
    p.add_argument("--no-compile", action="store_true", help="eager mode (no torch.compile)")
    p.add_argument("--peak-tflops", type=float, default=0.0, help="the GPU's dense peak (default: from the table)")
    args = p.parse_args()
    deadline = time.monotonic() + args.time_limit
    if not torch.cuda.is_available():
        emit(
            {
                "benchmark": "gpu_train",
                "status": "skipped",
                "reason": "no CUDA GPU on this machine; the 124M figures are unmeasured",
            }
        )
        return 0
    cpu, gpu = tiny_losses("cpu"), tiny_losses("cuda")
    parity = {"cpu": cpu, "gpu": gpu, "max_abs_diff": max(abs(a - b) for a, b in zip(cpu, gpu))}
    record = {"benchmark": "gpu_train", "tiny_fp32_losses": parity}
    try:
        record["gpt2_124m"] = gpt2_speed(args, deadline)
    except torch.cuda.OutOfMemoryError:
        record["gpt2_124m"] = {
            "status": "out of memory",
            "batch_size": args.batch_size,
            "why": "use a smaller --batch-size",
        }
    emit(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
