"""The ``glassgpt`` command: a thin layer that parses arguments and calls the library.

Each subcommand lives in its own module here with two functions: ``register(subparsers)``
adds its parser (every option has a help text that shows its default) and ``run(args)``
calls the library and prints.  Library imports happen inside ``run`` so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import GlassError

#: subcommand modules, in the order ``--help`` lists them
COMMANDS = ["train", "sample", "eval", "tokenizer", "explain", "gradcheck", "plot", "report", "demo"]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default and keeps the description's line breaks."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassgpt",
        description="Train GPT-style language models from scratch and see exactly how they learn.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"glassgpt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except GlassError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
