"""The options and the result lines every stage after fine-tuning shares (``reward``, ``dpo``,
``rl``): how long it trains, where it writes, and what it prints at the end."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping


def add_schedule_options(parser: argparse.ArgumentParser, defaults: Mapping) -> None:
    """``--max-steps``, ``--lr`` and ``--warmup-steps`` with the stage's own defaults."""
    parser.add_argument("--max-steps", type=int, default=defaults["max_steps"], help="optimizer steps")
    parser.add_argument("--lr", type=float, default=defaults["lr"], help="peak learning rate")
    parser.add_argument("--warmup-steps", type=int, default=defaults["warmup_steps"], help="linear warmup steps")


def add_ending_options(parser: argparse.ArgumentParser, out: str) -> None:
    """``--time-budget``, ``--overwrite`` (of the run in ``out``), ``--quiet`` and ``--json``."""
    parser.add_argument(
        "--time-budget", type=float, default=0.0, metavar="SECONDS", help="stop cleanly after this long"
    )
    parser.add_argument("--overwrite", action="store_true", help=f"replace a run already in {out}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def ending_settings(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``add_ending_options`` (and the log on stderr) for the stage's function."""
    return {
        "time_budget": args.time_budget,
        "overwrite": args.overwrite,
        "progress": not args.quiet,
        "log": lambda line: print(line, file=sys.stderr),
    }


def print_result(args: argparse.Namespace, result, label: str = "") -> int:
    """The new run, its steps and each held-out figure before → after (``--json``: one object)."""
    if args.json:
        fields = {"run_dir": str(result.run_dir), "steps": result.steps, "before": result.before}
        print(json.dumps({**fields, "after": result.after}))
        return 0
    print(f"run: {result.run_dir}  steps: {result.steps} ({result.stopped_by})")
    for key in result.after:
        print(f"{label}{key}: {result.before[key]:.4g} -> {result.after[key]:.4g}")
    return 0
