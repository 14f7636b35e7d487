"""Benchmark: the ``baby`` preset, character level, on Tiny Shakespeare, on the CPU.

Reads ``tinyshakespeare.txt`` from the benchmark data folder (``--data FOLDER`` or
``$GLASSGPT_BENCH_DATA``; see ``launcher.py``), the file the reference minimal GPT trainers use; the last 10% of
the characters is the validation split.  In the same process it also times a reference:
a bare PyTorch training loop (no checkpoints, metrics, evaluation or progress bar) over
the same GPT and the same batch shape, so the ratio shows what the trainer's bookkeeping
costs.  Prints ONE JSON line.

    python benchmarks/train_cpu.py --steps 300
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from launcher import bench_data  # the benchmark data folder (--data or $GLASSGPT_BENCH_DATA)

ROOT = Path(__file__).resolve().parent.parent


def reference_ms_per_step(cfg, vocab: int, steps: int) -> float:
    """A bare loop: random windows, forward, backward, AdamW, nothing else."""
    from glassgpt.models import GPT

    torch.manual_seed(0)
    m = dataclasses.replace(cfg.model, vocab_size=vocab)  # the configuration is frozen
    model = GPT(m)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    x = torch.randint(0, vocab, (cfg.train.batch_size, m.block_size))
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        _, loss = model(x, x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--steps", type=int, default=300, help="training steps of the glassgpt run")
    ap.add_argument("--ref-steps", type=int, default=30, help="steps of the bare reference loop")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import glassgpt
    from glassgpt.config import resolve

    text = (bench_data(args.data) / "tinyshakespeare.txt").read_text(encoding="utf-8")
    cfg = resolve(
        "baby",
        overrides={
            "train.max_steps": args.steps,
            "train.time_budget": 0,
            "train.eval_every": 0,
            "train.save_every": args.steps,
            "data.corpus": "",
            "train.threads": args.threads,
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = glassgpt.train(Path(tmp) / "run", config=cfg, text=text)
        wall = time.perf_counter() - t0
        metrics = [json.loads(l) for l in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
        vocab = json.loads((Path(tmp) / "run" / "config.json").read_text())["model"]["vocab_size"]
    train_time = metrics[-1]["elapsed_s"]
    glass_ms = train_time / result.steps * 1000
    ref_ms = reference_ms_per_step(resolve("baby"), vocab, args.ref_steps)
    tokens_per_step = cfg.train.batch_size * cfg.model.block_size
    print(
        json.dumps(
            {
                "benchmark": "train_cpu",
                "preset": "baby",
                "data": "tinyshakespeare.txt",
                "threads": args.threads,
                "steps": result.steps,
                "vocab": vocab,
                "ms_per_step": round(glass_ms, 1),
                "reference_ms_per_step": round(ref_ms, 1),
                "ratio_vs_bare_loop": round(glass_ms / ref_ms, 3),
                "tokens_per_sec": round(tokens_per_step / glass_ms * 1000),
                "first_train_loss": round(metrics[0]["train_loss"], 4),
                "ln_vocab": round(math.log(vocab), 4),
                "last_train_loss": round(metrics[-1]["train_loss"], 4),
                "val_loss": round(result.final["loss"], 4),
                "val_bits_per_byte": round(result.final["bits_per_byte"], 4),
                "wall_s_total": round(wall, 1),
                "overhead_s_outside_steps": round(wall - train_time, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
