"""Where a speedrun step's time goes on a CPU, and what each part would cost done another way.

On the ``cpu-speedrun`` model (or ``--preset``) with Tiny Shakespeare's characters, in one
invocation at one thread count, each timed over ``--steps`` repetitions:

- the data loader: one batch of random windows (``BatchLoader.next``);
- the training step through the engine (forward, backward, clipping, Muon/AdamW);
- attention alone, forward + backward, through SDPA (what the model uses) and written out
  (softmax(q kᵀ/√D + causal mask) v) on the model's shapes;
- a periodic evaluation: ``train.eval_batches`` batches of forward passes, as a share of the
  training steps between two evaluations (``train.eval_every``);
- a ``metrics.jsonl`` record appended with fsync-free appends every ``train.log_every`` steps.

    GLASSGPT_BENCH_DATA=/path/to/folder python benchmarks/step_breakdown.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from launcher import bench_data

from glassgpt.config import resolve
from glassgpt.data.loader import BatchLoader
from glassgpt.rundir import append_record
from glassgpt.tokenizers.char import CharTokenizer
from glassgpt.training.engines import make_engine, split_micro_batches


def mean_seconds(fn, repeat: int) -> float:
    fn()  # warm up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def attention_pair(B: int, H: int, T: int, D: int, repeat: int) -> tuple[float, float]:
    """(SDPA, written out): seconds of forward + backward of causal attention."""
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(B, H, T, D, generator=gen, requires_grad=True) for _ in range(3))
    mask = torch.full((T, T), -math.inf).triu(1)

    def sdpa():
        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()

    def written_out():
        (torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D) + mask, dim=-1) @ v).sum().backward()

    return mean_seconds(sdpa, repeat), mean_seconds(written_out, repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--preset", default="cpu-speedrun")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    text = (bench_data(args.data) / "tinyshakespeare.txt").read_text(encoding="utf-8")
    tok = CharTokenizer.train(text)
    ids = np.asarray(tok.encode(text), dtype=np.int64)
    cfg = resolve(args.preset, overrides={"model.vocab_size": tok.vocab_size})
    m, t = cfg.model, cfg.train
    loader = BatchLoader(ids, m.block_size, seed=0)
    engine = make_engine(cfg)
    batch = loader.next(t.batch_size)

    load_s = mean_seconds(lambda: loader.next(t.batch_size * t.grad_accum), args.steps * 10)
    step_s = mean_seconds(lambda: engine.train_step(split_micro_batches(*batch, t.batch_size), t.lr), args.steps)
    eval_s = mean_seconds(lambda: engine.eval_sums(*batch), args.steps) * t.eval_batches
    sdpa_s, written_s = attention_pair(t.batch_size, m.n_head, m.block_size, m.n_embd // m.n_head, args.steps)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "metrics.jsonl"
        record = {
            "step": 1,
            "tokens": 2048,
            "train_loss": 1.5,
            "lr": 0.002,
            "grad_norm": 0.5,
            "tokens_per_sec": 24000.0,
            "elapsed_s": 1.0,
        }
        log_s = mean_seconds(lambda: append_record(path, record), args.steps * 10)
    per_step = {
        "data_loader_ms": load_s * 1e3,
        "train_step_ms": step_s * 1e3,
        "eval_ms_per_step": eval_s / t.eval_every * 1e3 if t.eval_every else 0.0,
        "log_ms_per_step": log_s / t.log_every * 1e3,
    }
    total = sum(per_step.values())
    print(
        json.dumps(
            {
                "benchmark": "step_breakdown",
                "preset": args.preset,
                "threads": args.threads,
                "batch": [t.batch_size, m.block_size],
                "ms_per_step": {k: round(v, 3) for k, v in per_step.items()},
                "share_of_step": {k: round(v / total, 4) for k, v in per_step.items()},
                "attention_fwd_bwd_ms": {
                    "sdpa": round(sdpa_s * 1e3, 3),
                    "written_out": round(written_s * 1e3, 3),
                    "written_out_over_sdpa": round(written_s / sdpa_s, 2),
                },
                "periodic_eval_ms": round(eval_s * 1e3, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
