"""``glassgpt dpo``: train a chat run on preference pairs by DPO, into a new run."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.cli.lora_options import add_lora_options, lora_from
from glassgpt.cli.stage_options import add_ending_options, add_schedule_options, ending_settings, print_result
from glassgpt.stages.dpo import DEFAULTS, dpo


def register(sub) -> None:
    p = sub.add_parser(
        "dpo",
        help=COMMANDS["dpo"],
        formatter_class=HelpFormatter,
        description="Train a chat run by direct preference optimisation and save the result as a NEW run; the\n"
        "chat run is never changed and is the frozen reference. FILE.jsonl holds one pair per line:\n"
        '  {"prompt": "12+34=", "chosen": "46", "rejected": "47"}\n'
        '(or "messages", the conversation before the reply, instead of "prompt").\n'
        "The loss is -log sigmoid(beta [(log pi - log pi_ref)(chosen) - (log pi - log pi_ref)(rejected)]);\n"
        "the reference log-probabilities are computed once and kept in the run. --nll ALPHA adds ALPHA times\n"
        "the chosen replies' per-token negative log-likelihood, which keeps them likely (plain DPO may lower\n"
        "both replies as long as the rejected one falls faster). Each step logs the implicit rewards'\n"
        "accuracy and margin.",
    )
    p.add_argument("run_dir", metavar="RUN", help="the chat run to start from (only read)")
    p.add_argument(
        "--pairs",
        required=True,
        metavar="FILE.jsonl",
        help="the preference pairs, or arithmetic[:OPTIONS]: a right and a wrong answer per problem, sampled from RUN",
    )
    p.add_argument("--out", required=True, metavar="NEW_RUN", help="the new run directory")
    p.add_argument("--beta", type=float, default=0.1, help="beta: how strongly the implicit reward may pull")
    p.add_argument(
        "--nll",
        type=float,
        default=0.0,
        metavar="ALPHA",
        help="weight of the chosen replies' per-token NLL (0: plain DPO)",
    )
    add_lora_options(p)
    add_schedule_options(p, DEFAULTS)
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="pairs per step")
    p.add_argument("--eval-every", type=int, default=DEFAULTS["eval_every"], help="steps between held-out estimates")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of the pairs held out (a seeded choice)")
    p.add_argument("--task-pairs", type=int, default=DEFAULTS["task_pairs"], help="pairs made with --pairs arithmetic")
    p.add_argument("--seed", type=int, default=None, help="seed of the split, the batches and the sampled pairs")
    add_ending_options(p, "NEW_RUN")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = dpo(
        args.run_dir,
        args.pairs,
        args.out,
        beta=args.beta,
        nll=args.nll,
        lora=lora_from(args),
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
    return print_result(args, result)
