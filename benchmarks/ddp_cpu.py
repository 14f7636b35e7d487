"""Data parallelism on the CPU: one process against two gloo processes, and what the all-reduce costs.  One JSON line.

    python benchmarks/ddp_cpu.py [--data FOLDER] [--steps 60] [--micro 8]

1. **End to end**: ``glassgpt train`` launched by ``torchrun`` (1 process × 2 threads, 1 process
   × 1 thread, 2 processes × 1 thread) on Tiny Shakespeare with the ``baby`` model and the same
   global batch (``train.tokens_per_step``: 2 × ``--micro`` sequences of 64 tokens; one process
   accumulates two micro-batches), no periodic evaluation.  tokens/s is the summary's tokens
   over its training seconds (start-up and the final evaluation excluded).
2. **The all-reduce's share of a step**: two gloo processes run the same engine steps
   (``TorchEngine.train_step`` after ``distribute(world, "ddp")``) alternately with gradient
   synchronisation and without it (DDP's ``no_sync`` on every micro-batch: no communication);
   share = 1 − median(step without) / median(step with).  This is the exposed cost: what
   DDP cannot hide behind the backward pass.

A CPU matmul reference (``launcher.matmul_gflops``) puts the achieved FLOP/s in proportion.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from launcher import bench_data, matmul_gflops, training_flops_per_token

from glassgpt.config import resolve
from glassgpt.models import GPT
from glassgpt.parallel.world import World, free_port
from glassgpt.training.engines import TorchEngine, split_micro_batches

MODEL = [
    "--set",
    "model.n_layer=4",
    "--set",
    "model.n_head=4",
    "--set",
    "model.n_embd=128",
    "--set",
    "model.block_size=64",
    "--set",
    "train.eval_every=0",
    "--set",
    "train.time_budget=0",
    "--set",
    "train.log_every=10",
    "--set",
    "train.sample_tokens=0",
    "--set",
    "train.warmup_steps=10",
]


def end_to_end(data: Path, work: Path, nproc: int, threads: int, steps: int, micro: int) -> dict:
    out = work / f"run-{nproc}x{threads}"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        "-m",
        "glassgpt",
        "train",
        "--data",
        str(data / "tinyshakespeare.txt"),
        "--tokenizer",
        "char",
        "--out",
        str(out),
        "--max-steps",
        str(steps),
        "--threads",
        str(threads),
        "--set",
        f"train.batch_size={micro}",
        "--set",
        f"train.tokens_per_step={2 * micro * 64}",
        *MODEL,
        "--quiet",
    ]
    env = {**os.environ, "GLASSGPT_REPORT": "0", "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - start
    if done.returncode:
        return {"error": done.stderr[-800:]}
    summary = json.loads((out / "summary.json").read_text())
    config = json.loads((out / "config.json").read_text())
    tps = summary["tokens"] / summary["budget"]["training_s"]
    return {
        "processes": nproc,
        "threads_each": threads,
        "tokens_per_sec": round(tps),
        "training_s": round(summary["budget"]["training_s"], 2),
        "wall_s": round(wall, 1),
        "final_val_loss": round(summary["final"]["val_loss"], 4),
        "gflops_per_sec": round(tps * training_flops_per_token(config) / 1e9, 2),
    }


def _share_worker(rank: int, port: int, steps: int, micro: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        cfg = resolve("baby", overrides={"train.seed": 1})
        cfg = cfg.updated({"model.vocab_size": 65})
        engine = TorchEngine(cfg)
        engine.distribute(World(rank, 2, rank, 2), "ddp")
        synced = engine.parallel.sync
        rng = np.random.default_rng(rank)
        x, y = rng.integers(0, 65, (micro, 64)), rng.integers(0, 65, (micro, 64))
        batches = split_micro_batches(x, y, micro)
        timings = {"with": [], "without": []}
        for i in range(2 * steps + 4):
            mode = "with" if i % 2 == 0 else "without"
            engine.parallel.sync = synced if mode == "with" else (lambda last: engine.parallel.module.no_sync())
            dist.barrier()
            start = time.perf_counter()
            engine.train_step(batches, 1e-3)
            if i >= 4:  # warm-up
                timings[mode].append(time.perf_counter() - start)
        if rank == 0:
            Path(out).write_text(json.dumps(timings))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def allreduce_share(steps: int, micro: int, work: Path) -> dict:
    out = work / "share.json"
    mp.spawn(_share_worker, args=(free_port(), steps, micro, str(out)), nprocs=2, join=True)
    t = json.loads(out.read_text())
    with_sync, without = statistics.median(t["with"]), statistics.median(t["without"])
    return {
        "ms_per_step_with_allreduce": round(with_sync * 1000, 2),
        "ms_per_step_without": round(without * 1000, 2),
        "allreduce_share": round(1 - without / with_sync, 3),
        "gradient_mb": round(sum(p.numel() for p in _params()) * 4 / 1e6, 2),
    }


def _params():
    cfg = resolve("baby")
    cfg = cfg.updated({"model.vocab_size": 65})
    with torch.device("meta"):
        return list(GPT(cfg.model).parameters())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="folder holding tinyshakespeare.txt (or GLASSGPT_BENCH_DATA)")
    p.add_argument("--steps", type=int, default=60, help="training steps per end-to-end run")
    p.add_argument("--micro", type=int, default=8, help="sequences per micro-batch")
    args = p.parse_args()
    data = bench_data(args.data)
    work = Path(tempfile.mkdtemp(prefix="ddp_cpu-"))
    try:
        runs = [end_to_end(data, work, n, t, args.steps, args.micro) for n, t in ((1, 2), (1, 1), (2, 1))]
        share = allreduce_share(max(10, args.steps // 3), args.micro, work)
        gflops = {str(n): round(matmul_gflops(n), 1) for n in (1, 2)}
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    one, two = runs[0].get("tokens_per_sec"), runs[2].get("tokens_per_sec")
    print(
        json.dumps(
            {
                "benchmark": "ddp_cpu",
                "cores": os.cpu_count(),
                "runs": runs,
                "allreduce": share,
                "matmul_gflops": gflops,
                "speedup_2proc_vs_1proc_2threads": round(two / one, 3) if one and two else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
