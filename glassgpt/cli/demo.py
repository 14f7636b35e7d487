"""``glassgpt demo [NAME]``: run one worked example of the curriculum, or list them all."""

from __future__ import annotations

import argparse
import textwrap

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.demos import list_demos, run_demo
from glassgpt.errors import ConfigError
from glassgpt.terminal import width


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help=COMMANDS["demo"],
        formatter_class=HelpFormatter,
        description="Run one worked example: every number is computed, printed as a table, and "
        "checked by the test suite.  Without NAME, list the demos.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the demo to run; leave out to list them")
    p.add_argument("--plot", action="store_true", help="also save the demo's figure as NAME.png")
    p.add_argument("--out", metavar="DIR", help="folder for the --plot figure, created if missing (default: .)")
    p.add_argument(
        "--wide",
        action="store_true",
        help="print tables and text at full width (default: fit the terminal, or 80 columns)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out is not None and not args.plot:
        raise ConfigError("--out is the folder for the figure that --plot saves; add --plot (or drop --out).")
    if not args.name:
        demos = list_demos()
        pad = max((len(name) for name, _ in demos), default=0)
        columns = 10_000 if args.wide else width()
        print("Demos (run one with `glassgpt demo NAME`, add --plot for its figure):")
        for name, summary in demos:
            print(
                textwrap.fill(
                    summary,
                    max(columns, pad + 24),
                    initial_indent=f"  {name:<{pad}}  ",
                    subsequent_indent=" " * (pad + 4),
                )
            )
        return 0
    run_demo(args.name, plot=args.plot, out_dir=args.out or ".", wide=args.wide)
    return 0
