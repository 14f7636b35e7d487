"""``glassgpt merge``: fold a LoRA run's adapters into its weights, as a new run."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.stages.lora import merge


def register(sub) -> None:
    p = sub.add_parser(
        "merge",
        help=COMMANDS["merge"],
        formatter_class=HelpFormatter,
        description="Write a NEW run whose weights are RUN's with every LoRA adapter folded in, W + (alpha/r) B A:\n"
        "a plain GPT (no adapters) that predicts what RUN predicts and that every command reads. RUN is\n"
        "only read. (`glassgpt export --hf` merges the adapters the same way by itself.)",
    )
    p.add_argument("run_dir", metavar="RUN", help="a LoRA run, trained by `glassgpt finetune --lora RANK` (or dpo, rl)")
    p.add_argument("--out", required=True, metavar="NEW_RUN", help="the new run directory")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in NEW_RUN")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"run: {merge(args.run_dir, args.out, args.overwrite)}")
    return 0
