"""RL's batches: rollouts sampled from the policy being trained, scored, with their advantages.

``RolloutBatches.next(n)`` makes one step's rows (``n`` = prompts × G):

1. draws n / G prompts (``PromptSource.draw``: the task's training problems, or the next
   prompts of the file in a seeded order);
2. samples G completions of each from the *current* policy with the KV cache
   (``generation.sampling.generate_batch``, its seed drawn from this object's generator),
   until a chat end token or ``train.rollout_tokens``;
3. scores them (``data.rewards``) and computes each completion's advantage: its reward minus
   the mean of its group's, divided by the group's standard deviation with
   ``train.std_norm`` (a group whose rewards are all equal teaches nothing: advantages 0);
4. runs the sequences through the policy and the frozen reference once, without gradients,
   for the log-probability of every generated token: the policy's is the "old" one PPO's
   ratio divides by, the reference's the KL estimate's.

A batch is ``ROLLOUT_FIELDS``: tokens and targets (B, T) (the targets are the generated tokens
only), then per row the advantage, per token the old and the reference log-probabilities,
and per row the reward, the exact correctness (-1 when unknown) and the rollout speed in
tokens per second (the objective reports them).  With ``train.ppo_epochs`` > 1 the same
batch is returned that many times before new rollouts are made.

``state()`` is plain JSON: the generator's state, the file order's position and the batch
being reused, so a resumed run (after Ctrl-C or ``kill -9``) makes exactly the rollouts the
uninterrupted one would have made.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from glassgpt.data.pairs import encode_sides
from glassgpt.data.rewards import correctness
from glassgpt.data.source import Batch
from glassgpt.generation.sampling import generate_batch
from glassgpt.models.stage_losses import token_logprobs

#: what a batch holds, in order
ROLLOUT_FIELDS = (
    "tokens",
    "targets",
    "advantages",
    "old_logprobs",
    "ref_logprobs",
    "rewards",
    "correct",
    "rollout_speed",
)
#: the dtypes of a batch's arrays (what a resumed run rebuilds the reused batch with)
DTYPES = (np.int64, np.int64, np.float32, np.float32, np.float32, np.float32, np.float32, np.float32)


def group_advantages(rewards: np.ndarray, group: int, std_norm: bool) -> np.ndarray:
    """Per completion: reward − its group's mean (groups are consecutive runs of ``group``),
    divided by the group's standard deviation (+1e-6) with ``std_norm``."""
    r = rewards.reshape(-1, group).astype(np.float64)
    adv = r - r.mean(axis=1, keepdims=True)
    if std_norm:
        adv = adv / (r.std(axis=1, keepdims=True) + 1e-6)
    return adv.reshape(-1).astype(np.float32)


@torch.no_grad()
def logprobs(model: torch.nn.Module, ids: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log π(target) at every position of ``ids`` (0 where the target is -1), without gradients."""
    was_training = model.training
    model.eval()
    try:
        logits, _ = model(torch.from_numpy(ids))
        return token_logprobs(logits, torch.from_numpy(targets)).numpy().astype(np.float32)
    finally:
        model.train(was_training)


class RolloutBatches:
    """One step's rollouts at a time (see the module docstring)."""

    def __init__(self, source: Any, seed: int):
        self.source, self.t = source, source.cfg.train
        self.rng = np.random.default_rng(seed)
        self.seed, self.epoch, self.row = seed, 0, 0
        self.pending: Batch | None = None
        self.uses = 0

    def next(self, n: int) -> Batch:
        if self.pending is not None and self.uses < self.t.ppo_epochs:
            self.uses += 1
            return self.pending
        self.pending = self.rollout(self.source.draw(n // self.t.group_size, self))
        self.uses = 1
        return self.pending

    def rollout(self, prompts: list) -> Batch:
        """G completions of each prompt from the policy, scored, as a batch of ``ROLLOUT_FIELDS``."""
        group = self.t.group_size
        prompt_ids = [self.source.prompt_ids(p) for p in prompts]
        rows = [i for i in range(len(prompts)) for _ in range(group)]
        policy = self.source.policy()
        start = time.perf_counter()
        completions = generate_batch(
            policy,
            [prompt_ids[i] for i in rows],
            self.t.rollout_tokens,
            temperature=self.t.rollout_temperature,
            seed=int(self.rng.integers(2**31)),
            stop_ids=self.source.stop_ids,
        )
        seconds = time.perf_counter() - start
        texts = [self.source.reply_text(c) for c in completions]
        row_prompts = [prompts[i] for i in rows]
        rewards = self.source.reward(row_prompts, [prompt_ids[i] for i in rows], completions, texts)
        correct = correctness(row_prompts, texts, self.source.task is not None)
        sides = encode_sides([(prompt_ids[i], c) for i, c in zip(rows, completions)])
        generated = sum(len(c) for c in completions)
        return (
            sides.ids,
            sides.targets,
            group_advantages(rewards, group, self.t.std_norm),
            logprobs(policy, sides.ids, sides.targets),
            logprobs(self.source.reference, sides.ids, sides.targets),
            rewards.astype(np.float32),
            correct,
            np.full(len(rows), generated / max(seconds, 1e-9), dtype=np.float32),
        )

    def state(self) -> dict:
        pending = None if self.pending is None else [a.tolist() for a in self.pending]
        return {
            "rng": self.rng.bit_generator.state,
            "epoch": self.epoch,
            "row": self.row,
            "uses": self.uses,
            "pending": pending,
        }

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.row, self.uses = int(state["epoch"]), int(state["row"]), int(state["uses"])
        pending = state.get("pending")
        self.pending = None if pending is None else tuple(np.array(a, dtype=d) for a, d in zip(pending, DTYPES))
