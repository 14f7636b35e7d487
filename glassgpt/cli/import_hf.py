"""``glassgpt import-hf HF_DIR --out RUN``: a local Hugging Face GPT-2 folder as a glassgpt run."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.interop import import_hf


def register(sub) -> None:
    p = sub.add_parser(
        "import-hf",
        help=COMMANDS["import-hf"],
        formatter_class=HelpFormatter,
        description="Read config.json, model.safetensors (or a sharded index) and tokenizer.json (or vocab.json + "
        "merges.txt) from a local folder and write a run (config.json, model.safetensors, tokenizer.json) "
        "that `glassgpt sample`, `glassgpt eval --data TEXT`, `glassgpt explain` and `glassgpt finetune` open. "
        "Nothing is downloaded and "
        "PyTorch pickle files are never loaded.",
    )
    p.add_argument("hf_dir", metavar="HF_DIR", help="a local Hugging Face GPT-2 model folder")
    p.add_argument("--out", required=True, metavar="RUN", help="the run directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in RUN")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = import_hf(args.hf_dir, args.out, overwrite=args.overwrite)
    print(f"imported {args.hf_dir} as {out}; try: glassgpt sample {out} --prompt 'Hello'")
    return 0
