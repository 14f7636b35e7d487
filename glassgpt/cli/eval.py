"""``glassgpt eval``: loss, perplexity and bits per byte of a run, as JSON."""

from __future__ import annotations

import argparse
import json

from ..errors import ConfigError
from ..evaluation import evaluate_run
from . import COMMANDS, HelpFormatter


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help=COMMANDS["eval"],
                       formatter_class=HelpFormatter,
                       description="Evaluate every token of the run's validation split (or of --data) once. "
                                   "Bits per byte counts the UTF-8 bytes of the evaluated text, so models with "
                                   "different tokenizers compare fairly.")
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train`")
    p.add_argument("--data", metavar="PATH", help="evaluate this UTF-8 text file or folder instead")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1.")
    print(json.dumps(evaluate_run(args.run_dir, args.data, args.device, args.batch_size)))
    return 0
