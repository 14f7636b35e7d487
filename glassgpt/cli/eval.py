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
                       description="Evaluate every token of the run's validation split (or of --data) once and "
                                   "print JSON: split, loss (also as val_loss, or train_loss for a run without a "
                                   "validation split), perplexity, bits_per_byte, tokens, bytes. Bits per byte "
                                   "counts the UTF-8 bytes of the evaluated text, so models with different "
                                   "tokenizers compare fairly.")
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train`")
    p.add_argument("--data", metavar="PATH", help="evaluate this UTF-8 text file or folder instead")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps (auto picks cuda > mps > cpu)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}.")
    print(json.dumps(evaluate_run(args.run_dir, args.data, args.device, args.batch_size, threads=args.threads,
                                  progress=not args.quiet)))
    return 0
