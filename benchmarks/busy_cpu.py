"""Training speed on a quiet and on a loaded machine: the deterministic default, the opt-in
adaptive threads, and the old thread default, in one invocation.

Load: one busy-spinning process per usable core (a browser and a build, exaggerated),
started before the run and stopped after it.  Each measurement is a real `glassgpt train`
process (each recipe of ``--preset``, default ``baby,cpu-speedrun``; char level on Tiny
Shakespeare) stopped by ``--time-budget``; its speed is training tokens per second of
training time, read from the run's summary.  Variants:

- ``default``: ``glassgpt train`` as it is: the training threads are the usable cores, chosen
  from the hardware and recorded in the run, so the weights never depend on the load;
- ``adaptive``: ``--threads adaptive``: the training threads follow the load (the run then
  reproduces only at the same counts);
- ``old``: ``--threads CORES`` with OpenMP's default environment (``GLASSGPT_OPENMP_DEFAULTS=0``),
  what glassgpt did before its thread policy; since the engines run a step's rows in one part
  per thread it trains as the default does, and shows that OpenMP's environment no longer matters;
- ``adaptive+passive`` (with ``--passive``): adaptive with ``OMP_WAIT_POLICY=PASSIVE``.

Printed as ONE JSON line, per recipe: tokens/s per variant, quiet and loaded, the share of its quiet
speed each keeps under load (target >= 0.5 for adaptive), and the threads each run trained
with (at start and end, and the step at which an adaptive run changed them).

    GLASSGPT_BENCH_DATA=/path/to/folder python benchmarks/busy_cpu.py --seconds 40
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

from launcher import bench_data, cpu_count, launch_train, spinners


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--seconds", type=float, default=40.0, help="--time-budget of each run")
    ap.add_argument("--passive", action="store_true", help="also measure adaptive threads with OMP_WAIT_POLICY=PASSIVE")
    ap.add_argument("--preset", default="baby,cpu-speedrun", help="the recipes measured, comma-separated")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to every run")
    ap.add_argument("--out", default="runs/bench-busy", help="folder for the runs")
    args = ap.parse_args()

    text = bench_data(args.data) / "tinyshakespeare.txt"
    presets = [name for name in args.preset.split(",") if name]
    results = {name: measure(args, name, text) for name in presets}
    print(json.dumps({"benchmark": "busy_cpu", "cores": cpu_count(), "seconds": args.seconds, "presets": results}))


def measure(args, preset: str, text: Path) -> dict:
    """One recipe's variants, quiet and then under one spinner per core."""
    cores = cpu_count()
    base = ["--preset", preset, "--data", str(text), "--tokenizer", "char", "--time-budget", str(args.seconds)]
    for item in args.set:
        base += ["--set", item]
    variants = {
        "default": ([], {}),
        "adaptive": (["--threads", "adaptive"], {}),
        "old": (["--threads", str(cores)], {"GLASSGPT_OPENMP_DEFAULTS": "0"}),
    }
    if args.passive:
        variants["adaptive+passive"] = (["--threads", "adaptive"], {"OMP_WAIT_POLICY": "PASSIVE"})
    speeds: dict[str, dict[str, float | None]] = {"quiet": {}, "loaded": {}}
    chosen, walls = {}, {}
    for condition in ("quiet", "loaded"):
        load = spinners(cores) if condition == "loaded" else contextlib.nullcontext()
        with load:
            for name, (extra, env) in variants.items():
                folder = Path(args.out) / preset / f"{condition}-{name}"
                run = launch_train(name, base + extra, folder, env=env, timeout=6 * args.seconds + 60)
                speeds[condition][name] = round(run.tokens_per_sec) if run.tokens_per_sec else None
                walls[f"{condition}-{name}"] = round(run.wall_s, 1)
                if run.summary.get("threads"):
                    chosen[f"{condition}-{name}"] = run.summary["threads"]
    kept = {
        name: (
            round(speeds["loaded"][name] / speeds["quiet"][name], 3)
            if speeds["loaded"].get(name) and speeds["quiet"].get(name)
            else None
        )
        for name in variants
    }
    return {"tokens_per_sec": speeds, "loaded_share_of_quiet": kept, "threads": chosen, "wall_s": walls}


if __name__ == "__main__":
    main()
