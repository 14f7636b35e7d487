"""``glassgpt export DIR --hf OUT``: a run as a Hugging Face GPT-2 folder (weights, config, tokenizer)."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.interop import export_hf
from glassgpt.rundir import kinds


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help=COMMANDS["export"],
        formatter_class=HelpFormatter,
        description="Write a folder that transformers.GPT2LMHeadModel.from_pretrained(OUT) and "
        "AutoTokenizer.from_pretrained(OUT) load, with glassgpt's logits and token ids. The run is only "
        "read (no lock: it may be training). Refused, in one sentence, for what GPT-2 cannot hold: "
        "rotary positions, RMSNorm, QK-norm, ReLU², logit soft-capping, a bias on an untied head, "
        "word-level tokenizers.",
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train` (or import-hf)")
    p.add_argument("--hf", required=True, metavar="OUT", help="the folder to write (new or empty)")
    p.add_argument("--overwrite", action="store_true", help="write into OUT even if it is not empty")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "export --hf")
    out = export_hf(args.run_dir, args.hf, overwrite=args.overwrite)
    print(f"exported {args.run_dir} to {out}; load it with transformers.GPT2LMHeadModel.from_pretrained({str(out)!r})")
    return 0
