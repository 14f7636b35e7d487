"""``glassgpt chat``: talk to a run in the terminal, streaming each token as it is sampled."""

from __future__ import annotations

import argparse
import sys

from glassgpt.cli import COMMANDS, HelpFormatter, add_device_and_threads, device_and_threads
from glassgpt.config import check_seed
from glassgpt.errors import ConfigError
from glassgpt.generation.constraints import make_constraint
from glassgpt.generation.sampling import DEFAULTS, SamplingSettings
from glassgpt.models.from_run import load_run
from glassgpt.rundir import kinds
from glassgpt.serve.terminal_chat import HELP, chat_loop
from glassgpt.threads import thread_scope
from glassgpt.tokenizers.chat_template import is_chat_tokenizer


def register(sub) -> None:
    p = sub.add_parser(
        "chat",
        help=COMMANDS["chat"],
        formatter_class=HelpFormatter,
        description="A conversation in the terminal. A run fine-tuned with `glassgpt finetune` answers through the\n"
        "chat template; any other run continues the text you type. Ctrl-C stops a reply; at the\n"
        "prompt it ends the chat. Commands:" + HELP,
    )
    p.add_argument("run_dir", metavar="RUN", help="run directory")
    p.add_argument("--temperature", type=float, default=DEFAULTS.temperature, help="softmax temperature; 0 = greedy")
    p.add_argument("--top-k", type=int, default=DEFAULTS.top_k, help="sample only from the k most likely tokens")
    p.add_argument("--top-p", type=float, default=DEFAULTS.top_p, help="sample from the smallest set with this mass")
    p.add_argument("--max-tokens", type=int, default=DEFAULTS.max_new_tokens, help="most tokens per reply")
    p.add_argument("--seed", type=int, default=None, help="seed: reply i is sampled with seed + i")
    p.add_argument("--system", default="", help="a system message to start the conversation (chat runs)")
    p.add_argument("--probs", action="store_true", help="show each token's probability inline from the start")
    steer = p.add_argument_group("constraints (one of them; every reply must match it)")
    steer.add_argument("--regex", metavar="PATTERN", help="a regular expression each whole reply matches")
    steer.add_argument("--choices", metavar="A|B|C", help="each reply is one of these, separated by '|'")
    steer.add_argument("--json-schema", metavar="FILE", help="each reply is JSON of this schema (see `sample --help`)")
    add_device_and_threads(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "chat")
    if args.max_tokens < 1:
        raise ConfigError(f"--max-tokens must be at least 1 (a reply needs a token), got {args.max_tokens}.")
    check_seed(args.seed)
    constraint = make_constraint(args.regex, args.choices, args.json_schema)
    settings = SamplingSettings(args.max_tokens, args.temperature, args.top_k, args.top_p)
    settings.check()
    device, threads = device_and_threads(args)
    with thread_scope(threads):
        run = load_run(args.run_dir, device)
        if args.system and not is_chat_tokenizer(run.tokenizer):
            print(
                "note: --system is left out: this run has no chat tokens (fine-tune it with `glassgpt finetune`), "
                "so it continues your text instead.",
                file=sys.stderr,
            )
        chat_loop(run, settings, seed=args.seed, system=args.system, probs=args.probs, constraint=constraint)
    return 0
