"""``glassgpt report``: write a run's self-contained HTML report."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.report import write_report
from glassgpt.rundir import kinds


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help=COMMANDS["report"],
        formatter_class=HelpFormatter,
        description="Redraw the figures into DIR/plots/ and write DIR/report.html, one self-contained page\n"
        "(figures inline, no network needed) with the configuration, the parameter table, the\n"
        "samples taken during training, the final evaluation and a token-by-token explain view\n"
        "of the validation text. Training writes it automatically at the end of every run.",
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train`")
    p.add_argument("--prompt", help="text for the attention figure (default: the start of the validation text)")
    p.add_argument("--no-plots", action="store_true", help="leave the figures out (faster; no matplotlib needed)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "report")
    result = write_report(args.run_dir, figures=not args.no_plots, prompt=args.prompt, progress=not args.quiet)
    drawn = [r for r in result.figures if r.path]
    skipped = [r for r in result.figures if not r.path]
    for line in result.notes:
        print(f"note: {line}")
    print(
        f"wrote {result.path} ({len(drawn)} figures"
        + (f", {len(skipped)} skipped: " + ", ".join(r.name for r in skipped) if skipped else "")
        + ")"
    )
    return 0
