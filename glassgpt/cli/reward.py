"""``glassgpt reward``: train a reward model from a chat run on preference pairs, into a new run."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.cli.stage_options import add_ending_options, add_schedule_options, ending_settings, print_result
from glassgpt.stages.reward import DEFAULTS, train_reward_model


def register(sub) -> None:
    p = sub.add_parser(
        "reward",
        help=COMMANDS["reward"],
        formatter_class=HelpFormatter,
        description="Train a reward model from a chat run and save it as a NEW run (kind reward); the chat run is\n"
        "never changed. FILE.jsonl holds one preference pair per line:\n"
        '  {"prompt": "12+34=", "chosen": "46", "rejected": "47"}\n'
        '(or "messages", the conversation before the reply, instead of "prompt").\n'
        "The token <|reward|> is added after each reply and a scalar head reads its position; the loss\n"
        "is -log sigmoid(r_chosen - r_rejected - margin). The held-out pairs' accuracy and mean margin\n"
        "are measured before and after training (RM/stage.json).",
    )
    p.add_argument("run_dir", metavar="RUN", help="the chat run to start from (only read)")
    p.add_argument(
        "--pairs",
        required=True,
        metavar="FILE.jsonl",
        help="the preference pairs, or arithmetic[:OPTIONS]: a right and a wrong answer per problem, sampled from RUN",
    )
    p.add_argument("--out", required=True, metavar="RM", help="the new run directory")
    p.add_argument("--margin", type=float, default=0.0, help="the margin m the chosen reply's score must win by")
    add_schedule_options(p, DEFAULTS)
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="pairs per step")
    p.add_argument("--eval-every", type=int, default=DEFAULTS["eval_every"], help="steps between held-out estimates")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of the pairs held out (a seeded choice)")
    p.add_argument("--task-pairs", type=int, default=DEFAULTS["task_pairs"], help="pairs made with --pairs arithmetic")
    p.add_argument("--seed", type=int, default=None, help="seed of the split, the batches and the sampled pairs")
    add_ending_options(p, "RM")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = train_reward_model(
        args.run_dir,
        args.pairs,
        args.out,
        margin=args.margin,
        max_steps=args.max_steps,
        lr=args.lr,
        batch_size=args.batch_size,
        warmup_steps=args.warmup_steps,
        eval_every=args.eval_every,
        val_fraction=args.val_fraction,
        task_pairs=args.task_pairs,
        seed=args.seed,
        **ending_settings(args),
    )
    if args.json:
        return print_result(args, result)
    print(f"run: {result.run_dir}  steps: {result.steps} ({result.stopped_by})")
    b, a = result.before, result.after
    print(
        f"held-out pair accuracy {b['pair_accuracy']:.3f} -> {a['pair_accuracy']:.3f}; "
        f"margin {b['reward_margin']:+.3f} -> {a['reward_margin']:+.3f}"
    )
    return 0
