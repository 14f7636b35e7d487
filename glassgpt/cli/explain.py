"""``glassgpt explain``: a per-token table of probabilities, losses, ranks and dL/dlogits."""

from __future__ import annotations

import argparse
import json

from glassgpt.cli import COMMANDS, HelpFormatter, add_device_and_threads, device_and_threads
from glassgpt.data import read_text
from glassgpt.data.conversations import parse_conversation_text
from glassgpt.errors import ConfigError
from glassgpt.explain import add_stage_view, explain_chat, explain_text, render
from glassgpt.generation.constraints import make_constraint
from glassgpt.models.from_run import load_run
from glassgpt.rundir import kinds
from glassgpt.threads import thread_scope


def register(sub) -> None:
    p = sub.add_parser(
        "explain",
        help=COMMANDS["explain"],
        formatter_class=HelpFormatter,
        description="For every position of TEXT: the context token, the target (next) token, P(target),\n"
        "the loss -ln P, the target's rank (1 = most likely), the top-k alternatives, and the\n"
        "gradient of the loss with respect to the logits, p - onehot(target): the target's entry\n"
        "is P-1, every other entry is that token's probability, and the row sums to 0.\n"
        "Totals: mean loss, perplexity, bits per byte (loss in bits / UTF-8 bytes predicted).\n"
        "Texts longer than the model's context slide: every target is predicted from the\n"
        "longest context available, up to the context the model was trained on.",
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train`")
    p.add_argument("text", metavar="TEXT", nargs="?", help="the text to explain (or use --file)")
    p.add_argument("--file", metavar="PATH", help="read the text from this UTF-8 file instead")
    p.add_argument("--top-k", type=int, default=5, metavar="K", help="alternatives shown per position")
    p.add_argument(
        "--chat",
        action="store_true",
        help='TEXT / --file is one conversation as JSON, {"messages": [{"role": ..., "content": ...}, ...]} '
        "(a line of an SFT file): apply the chat template and mark the targets the fine-tuning loss counts",
    )
    steer = p.add_argument_group(
        "constraints",
        "one of them: what it removes at each position (TEXT after its first token must match)",
    )
    steer.add_argument("--regex", metavar="PATTERN", help="a regular expression, as `sample --regex`")
    steer.add_argument("--choices", metavar="A|B|C", help="one of these, as `sample --choices`")
    steer.add_argument("--json-schema", metavar="FILE", help="JSON of this schema, as `sample --json-schema`")
    stage = p.add_argument_group("after fine-tuning", "with --chat: what an RL or a DPO step does to each reply token")
    stage.add_argument("--advantage", type=float, metavar="A", help="RL: each reply token's push A·(1 − P)")
    stage.add_argument("--reference", metavar="RUN", help="DPO: the reference run; each token's β (ln P − ln P_ref)")
    stage.add_argument("--beta", type=float, default=0.1, help="DPO's beta, with --reference")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object instead of a table")
    add_device_and_threads(p)
    p.add_argument(
        "--wide",
        action="store_true",
        help="every column, one line per row, however wide (default: fit the terminal, or 80 columns)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "explain")
    if (args.text is None) == (args.file is None):
        raise ConfigError("give the text to explain either as TEXT or with --file PATH (exactly one of them).")
    if args.top_k < 0:
        raise ConfigError(f"--top-k must not be negative, got {args.top_k}.")
    constraint = make_constraint(args.regex, args.choices, args.json_schema)
    if (args.advantage is not None or args.reference is not None) and not args.chat:
        raise ConfigError("--advantage and --reference look at the reply of a conversation; add --chat.")
    if constraint is not None and args.chat:
        raise ConfigError("--chat explains a whole conversation; a constraint applies to a text (leave one out).")
    if args.file is not None:
        text = read_text(args.file)
    else:
        text = args.text
    device, threads = device_and_threads(args)
    with thread_scope(threads):
        loaded = load_run(args.run_dir, device)
        if args.chat:
            messages = parse_conversation_text(text, args.file or "TEXT").messages
            result = explain_chat(
                loaded.model, loaded.tokenizer, messages, top_k=args.top_k, max_context=loaded.trained_context
            )
            reference = None
            if args.reference is not None:
                ref = load_run(args.reference, device)
                reference = explain_chat(ref.model, ref.tokenizer, messages, top_k=0, max_context=ref.trained_context)
            add_stage_view(result, advantage=args.advantage, reference=reference, beta=args.beta)
        else:
            result = explain_text(loaded, text, top_k=args.top_k, progress=not args.quiet, constraint=constraint)
    if args.json:
        print(json.dumps(result))
    else:
        render(result, vocab_size=loaded.tokenizer.vocab_size, wide=args.wide)
    return 0
