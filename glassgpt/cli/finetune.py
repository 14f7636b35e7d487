"""``glassgpt finetune``: supervised fine-tuning of a run on conversations, into a new run."""

from __future__ import annotations

import argparse
import json
import sys

from glassgpt.cli import COMMANDS, HelpFormatter, add_device_and_threads, device_and_threads
from glassgpt.cli.lora_options import add_lora_options, lora_from
from glassgpt.stages.finetune import DEFAULTS, finetune


def register(sub) -> None:
    p = sub.add_parser(
        "finetune",
        help=COMMANDS["finetune"],
        formatter_class=HelpFormatter,
        description="Continue a trained run on conversations (SFT) and save the result as a NEW run; the source\n"
        "run is never changed. FILE.jsonl holds one conversation per line:\n"
        '  {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}\n'
        "The chat tokens <|system_start|> … <|assistant_end|> are added to the tokenizer (new embedding\n"
        "rows start at the mean of the existing rows plus small seeded noise). The loss counts the\n"
        "assistant's text and <|assistant_end|> only. Conversations are packed whole into rows of the\n"
        "trained context (best fit, padded); --overflow says what happens to a longer one.",
    )
    p.add_argument("run_dir", metavar="RUN", help="the trained run to start from (only read)")
    p.add_argument(
        "--sft",
        required=True,
        metavar="FILE.jsonl",
        help="the conversations, or qa: the 214 question-answer pairs that ship with glassgpt, or arithmetic[:OPTIONS]: "
        "5,000 problems of the arithmetic task",
    )
    p.add_argument("--out", required=True, metavar="NEW_RUN", help="the new run directory")
    p.add_argument(
        "--overflow",
        choices=["error", "truncate"],
        default="error",
        help="a conversation longer than the context: refuse the file, or keep its first context+1 tokens",
    )
    p.add_argument("--max-steps", type=int, default=DEFAULTS["max_steps"], help="optimizer steps")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="peak learning rate (cosine decay to 0.1x)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="rows per step")
    p.add_argument("--warmup-steps", type=int, default=DEFAULTS["warmup_steps"], help="linear warmup steps")
    p.add_argument(
        "--eval-every",
        type=int,
        default=DEFAULTS["eval_every"],
        help="steps between held-out response-loss estimates (0: only at the end)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=DEFAULTS["val_fraction"],
        help="share of the conversations held out for evaluation (a seeded choice)",
    )
    p.add_argument(
        "--seed", type=int, default=None, help="seed for the split, the new rows and the batches (default: the run's)"
    )
    p.add_argument(
        "--time-budget", type=float, default=0.0, metavar="SECONDS", help="stop cleanly after this long (0: no limit)"
    )
    p.add_argument(
        "--transcript",
        type=int,
        default=DEFAULTS["transcript"],
        metavar="N",
        help="held-out questions answered greedily at the end",
    )
    add_device_and_threads(p)
    add_lora_options(p)
    p.add_argument("--overwrite", action="store_true", help="replace a run already in NEW_RUN")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    device, threads = device_and_threads(args)
    result = finetune(
        args.run_dir,
        args.sft,
        args.out,
        overflow=args.overflow,
        max_steps=args.max_steps,
        lr=args.lr,
        batch_size=args.batch_size,
        warmup_steps=args.warmup_steps,
        eval_every=args.eval_every,
        val_fraction=args.val_fraction,
        seed=args.seed,
        time_budget=args.time_budget,
        overwrite=args.overwrite,
        progress=not args.quiet,
        transcript=args.transcript,
        log=lambda line: print(line, file=sys.stderr),
        device=device,
        threads=threads,
        lora=lora_from(args),
    )
    if args.json:
        print(
            json.dumps(
                {
                    "run_dir": str(result.run_dir),
                    "steps": result.steps,
                    "stopped_by": result.stopped_by,
                    "before": result.before,
                    "after": result.after,
                    "counts": result.counts,
                    "transcript": result.transcript,
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(f"run: {result.run_dir}  steps: {result.steps} ({result.stopped_by})")
    print(
        f"response loss, held out: {result.before['val']['loss']:.4f} -> {result.after['val']['loss']:.4f}; "
        f"training: {result.before['train']['loss']:.4f} -> {result.after['train']['loss']:.4f}"
    )
    for line in result.transcript:
        print(
            f"\nuser:      {line['user']}\nexpected:  {line['expected']}\nassistant: {line['reply']}"
            f"{'' if line['finished'] else ' [no <|assistant_end|>]'}"
        )
    return 0
