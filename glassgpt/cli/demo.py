"""``glassgpt demo [NAME]``: run one worked example of the curriculum, or list them all."""

from __future__ import annotations

import argparse

from ..demos import list_demos, run_demo
from . import COMMANDS, HelpFormatter


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help=COMMANDS["demo"], formatter_class=HelpFormatter,
                       description="Run one worked example: every number is computed, printed as a table, and "
                                   "checked by the test suite.  Without NAME, list the demos.")
    p.add_argument("name", nargs="?", metavar="NAME", help="the demo to run; leave out to list them")
    p.add_argument("--plot", action="store_true", help="also save the demo's figure as NAME.png")
    p.add_argument("--out", default=".", metavar="DIR", help="folder for the figure (created if missing)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.name:
        demos = list_demos()
        width = max((len(name) for name, _ in demos), default=0)
        print("Demos (run one with `glassgpt demo NAME`, add --plot for its figure):")
        for name, summary in demos:
            print(f"  {name:<{width}}  {summary}")
        return 0
    run_demo(args.name, plot=args.plot, out_dir=args.out)
    return 0
