"""``glassgpt sample``: generate text from a trained run."""

from __future__ import annotations

import argparse
import json

from ..runs import load_run
from ..sample import DEFAULTS, sample_text
from . import COMMANDS, HelpFormatter


def register(sub) -> None:
    p = sub.add_parser(
        "sample", help=COMMANDS["sample"], formatter_class=HelpFormatter,
                       description="Generate text from a run directory. Temperature 0 is greedy decoding; the "
                                   "context is cropped to the length the model was trained on.")
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train`")
    p.add_argument("--prompt", default="", help="text to continue (empty: start from a newline)")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULTS.max_new_tokens,
                   help="tokens to generate per sample")
    p.add_argument("--temperature", type=float, default=DEFAULTS.temperature,
                   help="softmax temperature; 0 = greedy")
    p.add_argument("--top-k", type=int, default=DEFAULTS.top_k, help="sample only from the k most likely tokens")
    p.add_argument("--top-p", type=float, default=DEFAULTS.top_p, help="sample from the smallest set with this probability mass")
    p.add_argument("--num-samples", type=int, default=DEFAULTS.num_samples, help="number of independent samples")
    p.add_argument("--seed", type=int, default=None, help="random seed for reproducible samples")
    p.add_argument("--stop", action="append", default=[], metavar="TEXT", help="cut each sample at this string (repeatable)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto")
    p.add_argument("--json", action="store_true", help="print the samples as a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_run(args.run_dir, args.device)
    texts = sample_text(loaded.model, loaded.tokenizer, args.prompt, args.max_new_tokens, args.temperature,
                        args.top_k, args.top_p, args.num_samples, args.seed, args.stop,
                        max_context=loaded.trained_context)
    if args.json:
        print(json.dumps(texts, ensure_ascii=False))
    else:
        print("\n\n----------\n\n".join(texts))
    return 0
