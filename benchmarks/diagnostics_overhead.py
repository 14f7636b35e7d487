"""What do training diagnostics cost?  ms/step with diagnostics off vs on, in one run.

Model: the ``baby`` preset (4 layers, 4 heads, width 128, context 64, batch 32), char
tokenizer.  Data: ``tinyshakespeare.txt`` from the benchmark data folder (``--data FOLDER``
or ``$GLASSGPT_BENCH_DATA``; see ``launcher.py``)
relative to the repository root (the file the reference projects use), or random
tokens with ``--synthetic`` (vocabulary 65).

One TorchEngine trains through ``--rounds`` rounds; each round has one block of
``--interval`` steps with diagnostics off and one with diagnostics on at that interval
(the block's last step captured, its record built and appended to a JSONL file, as the
trainer does).  The order of the two blocks alternates between rounds so slow drift
of a shared machine cancels.  Printed, as ONE JSON line:

- ``ms_per_step_off`` / ``ms_per_step_on``: wall-clock block time / steps, per mode, and
  ``overhead_ratio`` = on / off (target < 1.05);
- on CPU also ``cpu_ms_per_step_*`` and ``overhead_ratio_cpu``: the same from this
  process's CPU time, which other processes stealing the CPU inflate less (use ``--threads 1``);
- ``capture_extra_ms`` (wall) and ``capture_extra_cpu_ms``: the median, over ``pairs``
  adjacent (plain step, captured step) pairs, of the captured step's extra time, and
  ``overhead_ratio_paired`` = 1 + that extra / (interval × median plain step), using CPU
  time on CPU and wall time on a GPU.  Adjacent pairs see the same machine load, so on a
  busy shared machine this is the number to trust; the block totals show the same
  quantity directly but carry the noise of minutes of other people's jobs.

    python benchmarks/diagnostics_overhead.py [--interval 100] [--rounds 3] [--pairs 5] [--synthetic] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from launcher import bench_data  # the benchmark data folder (--data or $GLASSGPT_BENCH_DATA)

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interval", type=int, default=100, help="diagnostics every N steps")
    ap.add_argument("--rounds", type=int, default=3, help="off/on block pairs")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--pairs", type=int, default=5, help="extra (plain, captured) step pairs for the robust estimate")
    ap.add_argument("--synthetic", action="store_true", help="random tokens instead of Tiny Shakespeare")
    ap.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args(argv)

    from glassgpt.config import resolve
    from glassgpt.data.loader import BatchLoader
    from glassgpt.tokenizers import CharTokenizer
    from glassgpt.training.engines import TorchEngine

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.synthetic:
        vocab, tokens, data = 65, np.random.default_rng(0).integers(0, 65, 200_000), "synthetic"
    else:
        text = (bench_data(args.data) / "tinyshakespeare.txt").read_text(encoding="utf-8")
        tok = CharTokenizer.train(text)
        vocab, tokens, data = tok.vocab_size, np.array(tok.encode(text)), "tinyshakespeare"
    cfg = resolve("baby", overrides={"train.device": args.device})
    cfg = cfg.updated({"model.vocab_size": vocab})
    t = cfg.train
    engine = TorchEngine(cfg)
    loader = BatchLoader(tokens, cfg.model.block_size, t.seed)
    sync = torch.cuda.synchronize if engine.device.type == "cuda" else (lambda: None)

    def step(capture: bool, out) -> tuple[float, float]:
        """(wall, process CPU) seconds of one training step, as the trainer runs it."""
        start, cpu = time.perf_counter(), time.process_time()
        x, y = loader.next(t.batch_size)
        result = engine.train_step([(x, y)], t.lr, capture=capture)
        if capture:  # what the trainer does with a captured step
            out.write(json.dumps(result.probe.record(0, result.grad_norm)) + "\n")
        sync()
        return time.perf_counter() - start, time.process_time() - cpu

    with tempfile.TemporaryFile("w+") as out:
        for _ in range(args.warmup):
            step(False, out)
        step(True, out)  # the first capture pays one-off costs (code paths, allocations)
        steps = {False: [], True: []}  # mode -> [(wall, cpu)] of every step of its blocks
        pairs = []  # (plain step, captured step) right after it
        for r in range(args.rounds):
            for on in (False, True) if r % 2 == 0 else (True, False):
                times = [step(on and i == args.interval - 1, out) for i in range(args.interval)]
                steps[on] += times
                if on:
                    pairs.append((times[-2], times[-1]))
        for _ in range(args.pairs):
            pairs.append((step(False, out), step(True, out)))
    n = args.rounds * args.interval
    on_cpu = engine.device.type == "cpu"
    clock = 1 if on_cpu else 0  # CPU time is the steadier clock on a shared CPU; GPUs need wall time

    def total(mode, c):
        return sum(st[c] for st in steps[mode])

    plain = [st[clock] for st in steps[False]] + [st[clock] for st in steps[True][:-1]]
    extra = [statistics.median(cap[c] - pl[c] for pl, cap in pairs) for c in (0, 1)]
    result = {
        "benchmark": "diagnostics_overhead",
        "preset": "baby",
        "data": data,
        "device": str(engine.device),
        "threads": torch.get_num_threads(),
        "interval": args.interval,
        "steps_per_mode": n,
        "ms_per_step_off": round(1000 * total(False, 0) / n, 3),
        "ms_per_step_on": round(1000 * total(True, 0) / n, 3),
        "overhead_ratio": round(total(True, 0) / total(False, 0), 4),
    }
    if on_cpu:
        result.update(
            {
                "cpu_ms_per_step_off": round(1000 * total(False, 1) / n, 3),
                "cpu_ms_per_step_on": round(1000 * total(True, 1) / n, 3),
                "overhead_ratio_cpu": round(total(True, 1) / total(False, 1), 4),
                "capture_extra_cpu_ms": round(1000 * extra[1], 3),
            }
        )
    result.update(
        {
            "capture_extra_ms": round(1000 * extra[0], 3),
            "pairs": len(pairs),
            "overhead_ratio_paired": round(1 + extra[clock] / (args.interval * statistics.median(plain)), 4),
        }
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
