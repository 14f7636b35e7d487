"""``--lora RANK``, ``--lora-alpha`` and ``--lora-targets``: the same options on finetune, dpo and rl."""

from __future__ import annotations

import argparse

from glassgpt.stages.lora import Lora


def add_lora_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lora",
        type=int,
        metavar="RANK",
        help="train LoRA adapters of this rank instead of the weights (which stay frozen; default: no adapters)",
    )
    parser.add_argument("--lora-alpha", type=float, default=16.0, help="the adapters' output is scaled by alpha / rank")
    parser.add_argument(
        "--lora-targets",
        default="q,k,v,o",
        metavar="LIST",
        help="the linears that get adapters: q, k, v, o (attention) and fc, proj (the MLP)",
    )


def lora_from(args: argparse.Namespace) -> Lora | None:
    """The adapters the options ask for (None without --lora)."""
    if args.lora is None:
        return None
    targets = tuple(t.strip() for t in args.lora_targets.split(",") if t.strip())
    return Lora(args.lora, args.lora_alpha, targets)
