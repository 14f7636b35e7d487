"""Does a time-budgeted run end inside its budget when the machine gets busy halfway through?

Two real ``glassgpt train --preset cpu-speedrun --time-budget SECONDS`` processes (char level
on Tiny Shakespeare), one after the other:

- ``quiet``: nothing started beside it (the machine is only as quiet as it is: other people's
  work counts, so the load averages before each run are printed);
- ``loaded``: one busy-spinning process per usable core started when the run's metrics show
  half the budget trained (``elapsed_s``, logged every step), kept until the run exits, then
  stopped.

For each run, what ``summary.json``'s ``budget`` says: training, the final evaluation and the
samples (``with_samples_s``, what the budget covers) over the budget (target: ≤ 1.05), the
predictions next to what the final evaluation and samples really took, and the training pace
at the end over the pace of the first steps (``pace_slowdown``).  Printed as ONE JSON line.

    GLASSGPT_BENCH_DATA=/path/to/folder python benchmarks/budget_under_load.py --seconds 60
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import threading
import time
from pathlib import Path

from launcher import Run, bench_data, cpu_count, launch_train, spinners

TARGET = 1.05


def trained_seconds(out: Path) -> float:
    """The training seconds the run's latest metrics line reports (0 before the first)."""
    path = out / "metrics.jsonl"
    if not path.is_file():
        return 0.0
    lines = [line for line in path.read_text().splitlines() if '"elapsed_s"' in line]
    with contextlib.suppress(ValueError, IndexError):
        return float(json.loads(lines[-1])["elapsed_s"])
    return 0.0


def run_once(name: str, args: list[str], out: Path, seconds: float, load_at: float | None) -> tuple[Run, float | None]:
    """One run; with ``load_at``, spinners start once the run has trained ``load_at`` seconds.
    Returns the run and the wall seconds after launch at which the load started."""
    if out.exists():
        shutil.rmtree(out)
    finished: list[Run] = []
    worker = threading.Thread(
        target=lambda: finished.append(launch_train(name, args, out, timeout=4 * seconds + 120)), daemon=True
    )
    launched = time.perf_counter()
    worker.start()
    if load_at is None:
        worker.join()
        return finished[0], None
    while worker.is_alive() and trained_seconds(out) < load_at:
        time.sleep(0.2)
    started = time.perf_counter() - launched
    with spinners(cpu_count()):  # stopped in its finally, whatever happens to the run
        worker.join()
    return finished[0], started


def budget_record(run: Run, seconds: float, loadavg: tuple[float, ...], load_started: float | None) -> dict:
    budget = run.summary.get("budget") or {}
    spent = budget.get("with_samples_s")

    def rounded(key: str) -> float | None:
        return round(budget[key], 2) if budget.get(key) is not None else None

    return {
        "returncode": run.returncode,
        "stopped_by": run.summary.get("stopped_by"),
        "steps": run.summary.get("steps"),
        "val_loss": run.final_loss,
        "with_samples_s": rounded("with_samples_s"),
        "ratio": round(spent / seconds, 4) if spent else None,
        "training_s": rounded("training_s"),
        "final_eval_s": rounded("final_eval_s"),
        "predicted_final_eval_s": rounded("predicted_final_eval_s"),
        "samples_s": rounded("samples_s"),
        "predicted_samples_s": rounded("predicted_samples_s"),
        "pace_slowdown": rounded("pace_slowdown"),
        "wall_s": round(run.wall_s, 1),
        "load_started_s_after_launch": round(load_started, 1) if load_started is not None else None,
        "loadavg_before": [round(x, 2) for x in loadavg],
        "stderr_tail": run.stderr_tail[-300:] if run.returncode else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--seconds", type=float, default=60.0, help="--time-budget of each run")
    ap.add_argument("--preset", default="cpu-speedrun", help="the recipe both runs train")
    ap.add_argument("--out", default="runs/bench-budget-load", help="folder for the runs")
    args = ap.parse_args()

    text = bench_data(args.data) / "tinyshakespeare.txt"
    base = ["--preset", args.preset, "--data", str(text), "--tokenizer", "char", "--time-budget", str(args.seconds)]
    base += ["--set", "train.log_every=1"]  # every step's elapsed_s: the load starts on time
    runs = {}
    for condition, load_at in (("quiet", None), ("loaded", args.seconds / 2)):
        loadavg = os.getloadavg()
        run, started = run_once(condition, base, Path(args.out) / condition, args.seconds, load_at)
        runs[condition] = budget_record(run, args.seconds, loadavg, started)
    ratios = [r["ratio"] for r in runs.values()]
    print(
        json.dumps(
            {
                "benchmark": "budget_under_load",
                "preset": args.preset,
                "cores": cpu_count(),
                "seconds": args.seconds,
                "target_ratio": TARGET,
                "met": all(r is not None and r <= TARGET for r in ratios),
                "runs": runs,
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
