"""``glassgpt rl``: train a chat run by reinforcement learning on its own samples, into a new run."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.cli.lora_options import add_lora_options, lora_from
from glassgpt.cli.stage_options import add_ending_options, add_schedule_options, ending_settings, print_result
from glassgpt.stages.rl import DEFAULTS, rl


def register(sub) -> None:
    p = sub.add_parser(
        "rl",
        help=COMMANDS["rl"],
        formatter_class=HelpFormatter,
        description="Train a chat run by RL and save the result as a NEW run; the chat run is never changed and\n"
        "is the reference the KL is measured to. Every step samples G completions of each prompt from the\n"
        "policy, scores them (--task: exact match; --reward: a reward model), and takes a step on\n"
        "-sum(A log pi) over the generated tokens, normalised per token, where A = reward - the group's\n"
        "mean (--std-norm: divided by the group's std). Prompts come from --prompts FILE.jsonl, lines of\n"
        '  {"prompt": "12+34="}   (or "messages"; optionally "answer")\n'
        "or, with --task and no file, from the task's training problems.",
    )
    p.add_argument("run_dir", metavar="RUN", help="the chat run to start from (only read)")
    p.add_argument("--out", required=True, metavar="NEW_RUN", help="the new run directory")
    p.add_argument(
        "--task", metavar="TASK", help="arithmetic[:OPTIONS]: the exact-match reward and the task's problems"
    )
    p.add_argument("--reward", metavar="RM", help="a reward model run that scores the completions")
    p.add_argument("--prompts", metavar="FILE.jsonl", help="the prompts (default with --task: its training problems)")
    p.add_argument("--group-size", "-G", type=int, default=DEFAULTS["group_size"], help="completions per prompt")
    p.add_argument("--prompts-per-step", type=int, default=DEFAULTS["prompts_per_step"], help="prompts per step")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULTS["max_new_tokens"], help="the longest completion")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the rollouts")
    p.add_argument("--std-norm", action="store_true", help="divide each advantage by its group's standard deviation")
    p.add_argument("--kl-beta", type=float, default=0.0, help="beta of the KL penalty to the start model (k3)")
    p.add_argument("--ppo-epochs", type=int, default=1, help="steps per batch of rollouts (> 1: PPO clipping)")
    p.add_argument("--clip", type=float, default=0.2, help="PPO's ratio clip epsilon (0: none)")
    add_lora_options(p)
    add_schedule_options(p, DEFAULTS)
    p.add_argument(
        "--eval-every", type=int, default=DEFAULTS["eval_every"], help="steps between held-out response-loss estimates"
    )
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of a prompt file held out")
    p.add_argument("--pass-k", type=int, default=8, help="k of the held-out pass@k before and after")
    p.add_argument("--seed", type=int, default=None, help="seed of the rollouts and the batches")
    add_ending_options(p, "NEW_RUN")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = rl(
        args.run_dir,
        args.out,
        task=args.task,
        reward=args.reward,
        prompts=args.prompts,
        group_size=args.group_size,
        prompts_per_step=args.prompts_per_step,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        std_norm=args.std_norm,
        kl_beta=args.kl_beta,
        ppo_epochs=args.ppo_epochs,
        clip=args.clip,
        lora=lora_from(args),
        max_steps=args.max_steps,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        eval_every=args.eval_every,
        val_fraction=args.val_fraction,
        pass_k=args.pass_k,
        seed=args.seed,
        **ending_settings(args),
    )
    return print_result(args, result, "held-out ")
