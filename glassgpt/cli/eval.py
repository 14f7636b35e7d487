"""``glassgpt eval``: loss, perplexity and bits per byte of a run, as JSON; or multiple-choice accuracy."""

from __future__ import annotations

import argparse
import json

from glassgpt.cli import COMMANDS, HelpFormatter, add_device_and_threads, device_and_threads
from glassgpt.errors import ConfigError
from glassgpt.evaluation.loss import evaluate_run
from glassgpt.evaluation.multiple_choice import SEPARATOR, evaluate_multiple_choice_job
from glassgpt.makemore.words import SPLITS
from glassgpt.rundir import kinds
from glassgpt.terminal import unescape
from glassgpt.threads import thread_scope


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help=COMMANDS["eval"],
        formatter_class=HelpFormatter,
        description="Evaluate every token of the run's validation split (or of --data) once and "
        "print JSON: split, loss (also as val_loss, or train_loss for a run without a "
        "validation split), perplexity, bits_per_byte, tokens, bytes. Bits per byte "
        "counts the UTF-8 bytes of the evaluated text, so models with different "
        "tokenizers compare fairly. A word-list run (the makemore ladder) evaluates every "
        "example of its dev split (or of the word list --data names; with --splits, of "
        "train, dev and test). With --multiple-choice FILE.jsonl it scores "
        "HellaSwag-style records instead (under torchrun split over the processes).",
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train`")
    p.add_argument("--data", metavar="PATH", help="evaluate this UTF-8 text file or folder instead")
    p.add_argument(
        "--splits",
        action="store_true",
        help="word-list runs (the makemore ladder): the loss on train, dev and test, as "
        '{"train": {...}, "dev": {...}, "test": {...}}',
    )
    p.add_argument(
        "--multiple-choice",
        metavar="FILE.jsonl",
        help='one record a line, {"context": "The cat", "endings": ["sat.", "flew."], "label": 0} '
        "(HellaSwag's own lines work too: ctx, or ctx_a and ctx_b, with endings and label): each "
        "ending scored by its summed and its mean token loss; prints both accuracies",
    )
    p.add_argument(
        "--separator",
        metavar="TEXT",
        help="with --multiple-choice: what goes between the context and each ending, scored with the "
        "ending (default: a space, never doubled: none is added to an ending that starts with one); "
        "'' for none; escapes such as \\n are read",
    )
    p.add_argument(
        "--shots",
        type=int,
        metavar="K",
        help="with --multiple-choice, for a base model: write K solved records of the file (the first K "
        "other than the record itself, one per line: context and right ending) before each context",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="with --multiple-choice: one JSON object with every record's losses and predictions",
    )
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    add_device_and_threads(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.multiple_choice:
        return run_multiple_choice(args)
    if args.json:
        raise ConfigError("--json goes with --multiple-choice; plain eval always prints JSON.")
    if args.separator is not None:
        raise ConfigError("--separator goes with --multiple-choice: it joins a record's context and endings.")
    if args.shots is not None:
        raise ConfigError("--shots goes with --multiple-choice: it writes solved records before each context.")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}.")
    if args.splits and args.data:
        raise ConfigError("--splits evaluates the run's own splits and --data other data; give one.")
    device, threads = device_and_threads(args)
    result = evaluate_run(
        args.run_dir,
        args.data,
        device,
        args.batch_size,
        threads=threads,
        progress=not args.quiet,
        splits=SPLITS if args.splits else (),
    )
    print(json.dumps(result))
    return 0


def run_multiple_choice(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "eval --multiple-choice")
    if args.data:
        raise ConfigError(
            f"--data {args.data} and --multiple-choice {args.multiple_choice} are two evaluations; give one of them."
        )
    try:
        separator = SEPARATOR if args.separator is None else unescape(args.separator)
    except ValueError as exc:
        raise ConfigError(f"--separator {exc}") from None
    device, threads = device_and_threads(args)
    with thread_scope(threads):
        result = evaluate_multiple_choice_job(
            args.run_dir, args.multiple_choice, device, separator, progress=not args.quiet, shots=args.shots or 0
        )
    if result is None:  # under torchrun rank 0 alone reports
        return 0
    if args.json:
        print(json.dumps(result.to_dict(details=True)))
        return 0
    print(
        f"{result.examples:,} examples  accuracy (summed loss) {result.accuracy_sum:.4f}  "
        f"accuracy (mean loss per token) {result.accuracy_mean:.4f}"
    )
    return 0
