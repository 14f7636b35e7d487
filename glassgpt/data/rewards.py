"""Rewards for RL's rollouts: a task's exact match, or a reward model's score.

A reward is called with the prompts of a batch of completions, their ids and their decoded
text, and returns one number per completion:

- ``TaskReward``: 1.0 when the reply is the task's answer to the prompt (``tasks.arithmetic``:
  the last user message is the problem), else 0.0: verifiable, never fooled;
- ``ModelReward``: a reward model's scalar (``glassgpt reward``), read at ``<|reward|>``
  appended after the completion as the policy wrote it: learned, so a policy can find what
  it overrates (reward hacking; RL logs the exact accuracy beside it when it can).

``correctness`` is the exact accuracy of each completion when it can be known (a task, or a
prompt that carries its answer), else -1: what a run logs as ``accuracy``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from glassgpt.data.pairs import Prompt, readout_id, reward_sides
from glassgpt.tasks import arithmetic
from glassgpt.tokenizers import Tokenizer

#: rows per forward pass when a reward model scores
SCORE_BATCH = 64


class TaskReward:
    """Exact match against the task's answer to each prompt."""

    def __call__(self, prompts: Sequence[Prompt], prompt_ids, completions, texts: Sequence[str]) -> np.ndarray:
        return np.array([arithmetic.reward(p.question, t) for p, t in zip(prompts, texts)], dtype=np.float32)


class ModelReward:
    """A reward model's score of each (prompt, completion) as token ids."""

    def __init__(self, model: torch.nn.Module, tokenizer: Tokenizer):
        self.model, self.readout = model, readout_id(tokenizer)

    def __call__(self, prompts, prompt_ids: Sequence[list[int]], completions: Sequence[list[int]], texts) -> np.ndarray:
        return score_ids(self.model, list(zip(prompt_ids, completions)), self.readout)


@torch.no_grad()
def score_ids(model: torch.nn.Module, sequences: list[tuple[list[int], list[int]]], readout: int) -> np.ndarray:
    """The reward model's score of every (prompt ids, completion ids), in batches of ``SCORE_BATCH``."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for i in range(0, len(sequences), SCORE_BATCH):
            sides = reward_sides(sequences[i : i + SCORE_BATCH], readout)
            out.append(model.rewards(torch.from_numpy(sides.ids), torch.from_numpy(sides.ends)).float().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def correctness(prompts: Sequence[Prompt], texts: Sequence[str], task: bool) -> np.ndarray:
    """1.0 / 0.0 for a right / wrong reply when the answer is known (a task's prompt, or a prompt
    with an ``answer``), -1.0 when it is not."""
    out = []
    for p, text in zip(prompts, texts):
        if task:
            out.append(arithmetic.reward(p.question, text))
        elif p.answer is not None:
            out.append(1.0 if text.strip() == p.answer.strip() else 0.0)
        else:
            out.append(-1.0)
    return np.array(out, dtype=np.float32)
