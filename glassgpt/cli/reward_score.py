"""``glassgpt reward-score``: a reward model's score of replies."""

from __future__ import annotations

import argparse
import json

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.data.pairs import read_pairs, read_prompts
from glassgpt.errors import ConfigError
from glassgpt.stages.reward import score_replies


def register(sub) -> None:
    p = sub.add_parser(
        "reward-score",
        help=COMMANDS["reward-score"],
        formatter_class=HelpFormatter,
        description="Print a reward model's score of each reply, one per line (higher: better). Give one reply\n"
        "with --text (and its --prompt), or a file with --file: lines of\n"
        '  {"prompt": "12+34=", "answer": "46"}            (the reply in "answer"), or\n'
        '  {"prompt": "12+34=", "chosen": "46", "rejected": "47"}   (both scored).',
    )
    p.add_argument("run_dir", metavar="RM", help="a reward model run (`glassgpt reward` makes one)")
    p.add_argument("--prompt", default="", help="the user message the reply answers")
    p.add_argument("--text", help="the reply to score")
    p.add_argument("--file", metavar="FILE.jsonl", help="replies to score (see above)")
    p.add_argument("--json", action="store_true", help="print one JSON list of the scores")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.file is None):
        raise ConfigError("give the reply to score with --text (and --prompt), or a file of them with --file.")
    if args.text is not None:
        items = [(({"role": "user", "content": args.prompt},), args.text)]
    else:
        items = _file_items(args.file)
    scores = score_replies(args.run_dir, items).tolist()
    if args.json:
        print(json.dumps(scores))
        return 0
    for (messages, reply), score in zip(items, scores):
        print(f"{score:+.4f}\t{messages[-1]['content']}\t{reply}")
    return 0


def _file_items(path: str) -> list:
    """(messages, reply) of each line: the "answer" of every prompt line, else both replies of every pair."""
    prompts = read_prompts(path)
    if all(p.answer is not None for p in prompts):
        return [(p.messages, p.answer) for p in prompts]
    return [(p.messages, reply) for p in read_pairs(path) for reply in (p.chosen, p.rejected)]
