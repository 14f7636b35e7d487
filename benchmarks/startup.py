"""How long do the commands that need no model take to start?  CPU and wall seconds per command.

Each command runs ``--repeats`` times (default 5) in a fresh process; printed, as ONE JSON line,
per command the median CPU seconds (user + system, the children's ``getrusage``: other people's
jobs on a shared machine inflate it less than the wall time) and the median wall seconds, and
every run's CPU seconds.  The commands:

- ``glassgpt --help``;
- ``glassgpt tokenizer train --help`` (target: at most 0.3 CPU seconds);
- ``glassgpt plot RUN loss`` on a finished run: a tiny one trained first into a temporary
  folder (a few seconds), or ``--run DIR``.  It draws from the run's records, so none of them
  imports torch (tests/cli/test_startup.py checks that; this measures what it saves).

    python benchmarks/startup.py [--repeats 5] [--run DIR]

Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: a tiny run of the built-in text: one layer, a few steps, no end-of-run report
TINY_RUN = [
    "train",
    "--max-steps",
    "10",
    "--set",
    "model.n_layer=1",
    "--set",
    "model.n_embd=16",
    "--set",
    "model.n_head=2",
    "--set",
    "model.block_size=16",
    "--set",
    "train.batch_size=4",
    "--quiet",
]


def glassgpt() -> list[str]:
    """The installed ``glassgpt`` script of this environment, else ``python -m glassgpt``."""
    script = Path(sys.executable).parent / "glassgpt"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "glassgpt"]


def timed(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``argv``, its output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def measure(argv: list[str], repeats: int) -> dict:
    runs = [timed(argv) for _ in range(repeats)]
    cpu = [round(c, 3) for c, _ in runs]
    return {
        "cpu_s": round(statistics.median(cpu), 3),
        "wall_s": round(statistics.median(w for _, w in runs), 3),
        "cpu_runs": cpu,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="runs of each command (the medians are printed)")
    ap.add_argument("--run", metavar="DIR", help="a finished run to plot (default: train a tiny one first)")
    args = ap.parse_args(argv)
    cli = glassgpt()
    tmp = Path(tempfile.mkdtemp(prefix="glassgpt-startup-"))
    try:
        run = Path(args.run) if args.run else tmp / "run"
        if not args.run:
            env = {**os.environ, "GLASSGPT_REPORT": "0"}
            subprocess.run([*cli, *TINY_RUN, "--out", str(run)], check=True, env=env, stdout=subprocess.DEVNULL)
        commands = {
            "glassgpt --help": [*cli, "--help"],
            "glassgpt tokenizer train --help": [*cli, "tokenizer", "train", "--help"],
            "glassgpt plot RUN loss": [*cli, "plot", str(run), "loss", "--out", str(tmp / "plots"), "--quiet"],
        }
        results = {name: measure(command, args.repeats) for name, command in commands.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"repeats": args.repeats, "commands": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
