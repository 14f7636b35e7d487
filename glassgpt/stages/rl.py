"""RL: a chat run trained on its own samples, each weighted by how well it scored.

``rl(run, out, task=..., reward=..., prompts=...)`` (``glassgpt rl RUN --task arithmetic |
--reward RM [--prompts FILE.jsonl] --out NEW``):

1. reads everything first: the run (kind ``chat``), the reward model (kind ``reward``, with
   the policy's own tokenizer plus ``<|reward|>``: anything else is refused), the prompts,
   each against the context with room for the completion;
2. trains a NEW run (kind ``chat``, ``train.objective = "pg"``) whose batches are rollouts
   (``data.rollouts``): for each prompt G completions sampled from the current policy with
   the KV cache, scored by the task's exact match or the reward model, each advantage its
   reward minus its group's mean (optionally divided by the group's std); the loss is
   −Σ A·log π over the generated tokens only, normalised per token, with the k3 estimate of
   the KL divergence to the frozen start model measured every step and added times β
   (``--kl-beta``, 0 by default: nanochat's plain REINFORCE), and PPO's ratio clipping when a
   batch is reused (``--ppo-epochs``); ``--lora`` trains adapters only.  Every step logs the
   reward, the exact accuracy where it is known, the KL, the entropy, the completion length
   and the rollout and update tokens per second; the run resumes exactly after Ctrl-C or
   ``kill -9`` (the rollouts' generator and a reused batch are in the checkpoint);
3. measures, before and after, the held-out prompts: with a task, greedy accuracy, pass@k
   and the KL to the start model; else the mean reward of the greedy replies; into
   ``NEW/stage.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassgpt.data.pairs import READOUT, Prompt
from glassgpt.data.prompt_source import Frozen, PromptSource
from glassgpt.data.rollouts import RolloutBatches, logprobs
from glassgpt.errors import ConfigError, TokenizerError
from glassgpt.evaluation.task import kl_to, task_scores
from glassgpt.generation.sampling import generate_batch
from glassgpt.models.from_run import load_run
from glassgpt.rundir import kinds
from glassgpt.stages.lora import Lora, with_lora
from glassgpt.stages.start import open_start, stage_config, write_record
from glassgpt.tasks import arithmetic, task_spec
from glassgpt.tokenizers import add_special_tokens
from glassgpt.training.engines import make_engine
from glassgpt.training.launch import build_trainer

DEFAULTS = {
    "group_size": 8,
    "prompts_per_step": 8,
    "max_new_tokens": 6,
    "max_steps": 300,
    "lr": 2e-4,
    "warmup_steps": 10,
    "eval_every": 50,
}
#: held-out problems of a task run, scored before and after
HELD_OUT = 200


@dataclass
class RLResult:
    run_dir: Path
    steps: int
    stopped_by: str
    before: dict
    after: dict


def reward_model(path: str | Path, policy_tokenizer) -> Frozen:
    """The reward model at ``path``, refused unless it is one and reads the policy's tokens."""
    kinds.require(path, "rl --reward")
    rm = load_run(path)
    expected = add_special_tokens(policy_tokenizer, [READOUT]).to_dict()
    if rm.tokenizer.to_dict() != expected:
        raise TokenizerError(
            f"the reward model {path} reads another tokenizer than the policy's; train it from this run "
            "(or its fine-tune) with `glassgpt reward RUN --pairs FILE --out RM`."
        )
    return Frozen(rm.config.to_dict(), rm.model, rm.tokenizer)


def rl(
    run: str | Path,
    out: str | Path,
    *,
    task: str | None = None,
    reward: str | Path | None = None,
    prompts: str | Path | None = None,
    group_size: int = DEFAULTS["group_size"],
    prompts_per_step: int = DEFAULTS["prompts_per_step"],
    max_new_tokens: int = DEFAULTS["max_new_tokens"],
    temperature: float = 1.0,
    std_norm: bool = False,
    kl_beta: float = 0.0,
    ppo_epochs: int = 1,
    clip: float = 0.2,
    lora: Lora | None = None,
    max_steps: int = DEFAULTS["max_steps"],
    lr: float = DEFAULTS["lr"],
    warmup_steps: int = DEFAULTS["warmup_steps"],
    eval_every: int = DEFAULTS["eval_every"],
    val_fraction: float = 0.1,
    pass_k: int = 8,
    seed: int | None = None,
    time_budget: float = 0.0,
    overwrite: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> RLResult:
    """Train the chat run ``run`` by RL into the new run ``out`` (see the module docstring)."""
    log = log or (lambda line: None)
    if task is None and reward is None:
        raise ConfigError("RL needs a reward: --task arithmetic (exact match) or --reward RM (a reward model run).")
    if task is None and prompts is None:
        raise ConfigError("RL needs prompts: give --prompts FILE.jsonl, or --task arithmetic for the task's problems.")
    if prompts_per_step < 1:
        raise ConfigError(f"--prompts-per-step must be at least 1, got {prompts_per_step}.")
    difficulty = task_spec(task) if task else None
    start = open_start(run, "rl", out)
    seed = start.config.train.seed if seed is None else seed
    rm = reward_model(reward, start.tokenizer) if reward is not None else None
    data = {
        "kind": "prompts",
        "path": str(prompts) if prompts else "",
        "task": task or "",
        "reward_model": str(reward) if reward else "",
        "val_fraction": val_fraction,
    }
    train = {
        "objective": "pg",
        "group_size": group_size,
        "batch_size": group_size * prompts_per_step,
        "rollout_tokens": max_new_tokens,
        "rollout_temperature": temperature,
        "std_norm": std_norm,
        "kl_beta": kl_beta,
        "ppo_epochs": ppo_epochs,
        "ppo_clip": clip,
        "max_steps": max_steps,
        "lr": lr,
        "warmup_steps": warmup_steps,
        "eval_every": eval_every,
        "seed": seed,
        "time_budget": time_budget,
        "weight_decay": 0.0,  # no pull towards zero weights: only the objective moves the model
    }
    cfg = stage_config(start.config, "chat", data, train)
    cfg, weights = with_lora(cfg, start.weights, lora, seed)
    reference = start.frozen()
    source = PromptSource(cfg, start.tokenizer, Path(prompts) if prompts else None, reference, rm)
    trainer = build_trainer(out, config=cfg, overwrite=overwrite, progress=progress, source=source, weights=weights)
    problems = arithmetic.held_out(HELD_OUT, difficulty) if difficulty is not None and prompts is None else []

    def scores() -> dict:
        model = trainer.engine.sampling_model()
        if problems:
            figures = task_scores(model, start.tokenizer, problems, pass_k, seed)
            return {**figures, "kl": kl_to(model, reference.model, start.tokenizer, problems, seed=seed)}
        held = source.held_out
        ids = [source.prompt_ids(p) for p in held]
        replies = generate_batch(model, ids, max_new_tokens, temperature=0.0, stop_ids=source.stop_ids)
        texts = [source.reply_text(r) for r in replies]
        return {"reward": float(np.mean(source.reward(held, ids, replies, texts))), "prompts": len(held)}

    record = {
        "stage": "rl",
        "source": str(run),
        "task": task or "",
        "reward": str(reward) if reward else "exact match",
        "prompts": str(prompts) if prompts else f"{task} training problems",
        "seed": seed,
    }
    before = scores()
    write_record(out, {**record, "before": before})
    log(f"held-out before: {_line(before)}")
    result = trainer.run()
    after = scores()
    write_record(out, {**record, "before": before, "after": after, "steps": result.steps})
    log(f"held-out after:  {_line(after)}")
    return RLResult(result.run_dir, result.steps, result.stopped_by, before, after)


def _line(figures: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in figures.items() if isinstance(v, float))


def worked_step(
    run: str | Path, question: str, group_size: int = 8, lr: float = 1e-4, seed: int = 0, max_new_tokens: int = 6
) -> dict:
    """One RL step on one prompt of the arithmetic task, in numbers (docs/stages.md's worked example):
    ``group_size`` completions of ``question`` sampled from the chat run ``run``, their rewards and
    advantages, one optimizer step of the policy gradient at ``lr`` (the engine's own step, no
    warmup), and the log-probability of every generated token before and after it.  Nothing is written.
    Adam's first step moves every weight by about ``lr`` whatever its gradient's size, so ``lr`` is RL's
    own (1e-4, the report card's): at 1e-3 the step overshoots and even the rewarded tokens lose probability."""
    start = open_start(run, "rl", Path(run) / "worked-step")
    data = {"kind": "prompts", "task": "arithmetic"}
    train = {"objective": "pg", "group_size": group_size, "batch_size": group_size, "rollout_tokens": max_new_tokens}
    train.update(max_steps=1, lr=lr, warmup_steps=0, seed=seed, kl_beta=0.0, weight_decay=0.0)
    cfg = stage_config(start.config, "chat", data, train)
    engine = make_engine(cfg)
    engine.load_state_dict({"model": start.weights})
    source = PromptSource(cfg, start.tokenizer, None, start.frozen(), None)
    source.attach(engine.sampling_model)
    batch = RolloutBatches(source, seed).rollout([Prompt(({"role": "user", "content": question},))])
    ids, targets, advantages, before, _, rewards, _, _ = batch
    engine.train_step([batch], lr)
    after = logprobs(engine.sampling_model(), ids, targets)
    completions = []
    for i in range(group_size):
        where = np.nonzero(targets[i] >= 0)[0]
        tokens = [
            {
                "token": start.tokenizer.token_str(int(targets[i, t])),
                "logp_before": float(before[i, t]),
                "logp_after": float(after[i, t]),
            }
            for t in where
        ]
        text = source.reply_text([int(targets[i, t]) for t in where])
        completions.append(
            {"reply": text, "reward": float(rewards[i]), "advantage": float(advantages[i]), "tokens": tokens}
        )
    return {"question": question, "lr": lr, "completions": completions}
