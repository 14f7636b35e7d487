"""``glassgpt serve``: the local web playground for a run (needs ``pip install 'glassgpt[serve]'``)."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter, add_device_and_threads, device_and_threads
from glassgpt.errors import ConfigError
from glassgpt.rundir import kinds
from glassgpt.serve.app import Limits, serve
from glassgpt.threads import thread_scope

LIMITS = Limits()


def register(sub) -> None:
    p = sub.add_parser(
        "serve",
        help=COMMANDS["serve"],
        formatter_class=HelpFormatter,
        description="Serve a run at http://HOST:PORT/: generate with streaming tokens coloured by probability\n"
        "(hover or tap one for its top-10 alternatives), explain a text token by token, and chat with\n"
        "a run fine-tuned by `glassgpt finetune`. The page works offline. API: GET /health,\n"
        "POST /api/generate and /api/chat (server-sent events), POST /api/explain (JSON). --port 0\n"
        "takes a free port and prints it. Ctrl-C or SIGTERM stops the server with one line, exit status 0.",
    )
    p.add_argument("run_dir", metavar="RUN", help="run directory")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (0: a free one, printed at start)")
    p.add_argument("--max-new-tokens", type=int, default=LIMITS.max_new_tokens, help="cap on max_tokens per request")
    p.add_argument("--max-prompt-tokens", type=int, default=LIMITS.max_prompt_tokens, help="cap on a prompt's tokens")
    add_device_and_threads(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "serve")
    for flag, value in (("--max-new-tokens", args.max_new_tokens), ("--max-prompt-tokens", args.max_prompt_tokens)):
        if value < 1:
            raise ConfigError(f"{flag} must be at least 1, got {value}.")
    limits = Limits(max_new_tokens=args.max_new_tokens, max_prompt_tokens=args.max_prompt_tokens)
    device, threads = device_and_threads(args)
    with thread_scope(threads):
        serve(args.run_dir, args.host, args.port, limits, device, announce=lambda line: print(line, flush=True))
    return 0
