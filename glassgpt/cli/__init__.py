"""The ``glassgpt`` command: a thin layer that parses arguments and calls the library.

Each subcommand lives in its own module here with two functions: ``register(subparsers)``
adds its parser (every option has a help text that shows its default) and ``run(args)``
calls the library and prints.  Command modules import the library at their top, and the
library imports torch; so ``main`` imports only the module of the command being run (the
one deferred import of the CLI), and ``glassgpt --help`` lists the commands from the table
below without importing any of them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..version import __version__
from ..errors import GlassError

#: subcommand -> one-line help, in the order ``--help`` lists them; each is the module ``glassgpt.cli.<name>``
COMMANDS = {
    "train": "train a GPT (default: char-level on the built-in Shakespeare, a few minutes on CPU)",
    "sample": "generate text from a trained run",
    "eval": "evaluate a run: val_loss, perplexity, bits_per_byte (JSON)",
    "tokenizer": "train, inspect and use byte-level BPE tokenizers",
    "explain": "show, token by token, what a trained model predicted and how wrong it was",
    "gradcheck": "check the NumPy engine's hand-written gradients against PyTorch autograd",
    "plot": "draw a run's figures (loss, gradients, attention, embeddings, ...) as PNG files",
    "report": "write DIR/report.html: config, parameters, figures, samples, evaluation, explain view",
    "demo": "run a worked example (softmax, chain rule, attention, ...)",
}


#: OpenMP settings glassgpt asks for unless the environment already has them.  They only work
#: if set before torch loads its OpenMP runtime (GNU libgomp in the Linux wheels), and main()
#: runs before any command module imports torch, so this is the one place for them.
#: Investigated (issue 11): OMP_WAIT_POLICY=PASSIVE (helper threads sleep at once instead of
#: spinning ~300,000 iterations) made 2-thread training on a loaded 2-core machine 2-4x
#: faster, but its cost on a quiet machine is not yet measured (benchmarks/busy_cpu.py
#: --passive measures both); the thread policy already drops to 1 thread under load, where
#: no OpenMP team waits at all.  So nothing is set for now.  GLASSGPT_OPENMP_DEFAULTS=0
#: turns this table off.
OPENMP_DEFAULTS: dict[str, str] = {}


def apply_openmp_defaults(environ=os.environ) -> None:
    """Put ``OPENMP_DEFAULTS`` into ``environ`` where it has no value of its own."""
    if environ.get("GLASSGPT_OPENMP_DEFAULTS") == "0":
        return
    for key, value in OPENMP_DEFAULTS.items():
        environ.setdefault(key, value)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default and keeps the description's line breaks."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser for ``command`` (its module imported); the others are listed by name only."""
    parser = argparse.ArgumentParser(
        prog="glassgpt",
        description="Train GPT-style language models from scratch and see exactly how they learn.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"glassgpt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if name == command:
            importlib.import_module(f"{__name__}.{name}").register(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    apply_openmp_defaults()
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
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
