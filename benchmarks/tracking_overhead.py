"""What ``--log tensorboard`` costs a training step, side by side with logging off in the same
process: the ``baby`` preset, runs with and without the tracker taking turns (so a change in the
machine's load hits both), the median seconds per step of each from ``metrics.jsonl``.  One
JSON line:

    python benchmarks/tracking_overhead.py                  # 150 steps, 3 runs of each
    python benchmarks/tracking_overhead.py --steps 60 --repeats 2 --wandb   # W&B (offline) too

The step time is the training loop's own (``elapsed_s`` of the last record over the steps:
the loop with its logging, without start-up and the final evaluation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

import glassgpt
from glassgpt.rundir import read_metrics


def seconds_per_step(out: Path, steps: int, log: list[str]) -> float:
    settings = {"train.max_steps": steps, "train.time_budget": 0, "train.eval_every": 0, "train.save_every": 10_000}
    glassgpt.train(out, preset="baby", overrides=settings, report=False, log=log or "none", overwrite=True)
    last = read_metrics(out)[-1]
    return last["elapsed_s"] / last["step"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--wandb", action="store_true", help="also measure --log wandb (offline)")
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    kinds = {"off": [], "tensorboard": ["tensorboard"], **({"wandb": ["wandb"]} if args.wandb else {})}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for kind, log in kinds.items():
                times[kind].append(seconds_per_step(Path(folder) / kind, args.steps, log))
    median = {kind: statistics.median(values) for kind, values in times.items()}
    result = {
        "benchmark": "tracking_overhead",
        "preset": "baby",
        "steps": args.steps,
        "repeats": args.repeats,
        **{f"{kind}_ms_per_step": round(1000 * value, 2) for kind, value in median.items()},
        **{
            f"{kind}_overhead_pct": round(100 * (median[kind] / median["off"] - 1), 2)
            for kind in kinds
            if kind != "off"
        },
        "all_ms_per_step": {kind: [round(1000 * v, 2) for v in values] for kind, values in times.items()},
        "cores": os.cpu_count(),
        "load_1min_before": round(load, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
