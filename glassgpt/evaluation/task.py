"""A run on a task's problems: accuracy, pass@k, and how far it moved from another model (KL).

The model is asked each question the way it was trained to read one: a chat run gets the
question as a user message and answers after ``<|assistant_start|>`` until a chat end token;
a plain run (the pretrained base model) continues the text ``12+34=`` until a newline.  The
reply, stripped, is compared with the answer (``tasks.arithmetic.reward``).

- ``accuracy``: the share of problems answered right greedily (temperature 0);
- ``pass@k``: the share with at least one right answer among ``k`` samples at temperature 1
  (every sample counted, so no estimator is needed: k is the number drawn);
- ``kl``: KL(π‖π_ref) in nats per completion, estimated on π's own samples as the mean of
  Σ_t (log π(y_t) − log π_ref(y_t)) over the completion's tokens (unbiased; the two models
  must share a tokenizer).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from glassgpt.data.pairs import encode_sides
from glassgpt.generation.sampling import generate_batch
from glassgpt.models.stage_losses import token_logprobs
from glassgpt.tasks.arithmetic import Problem, reward
from glassgpt.tokenizers import Tokenizer
from glassgpt.tokenizers.chat_template import is_chat_tokenizer, render, reply_stop_ids

#: rows per generation batch
ROWS = 256
#: new tokens per answer: the longest answer (1998) and an end token, with room to spare
ANSWER_TOKENS = 8


def question_ids(tokenizer: Tokenizer, question: str) -> tuple[list[int], tuple[int, ...]]:
    """(prompt ids, stop ids) for asking ``question`` the way the run reads one (see the module docstring)."""
    if is_chat_tokenizer(tokenizer):
        messages = [{"role": "user", "content": question}]
        return render(tokenizer, messages, add_generation_start=True).ids, reply_stop_ids(tokenizer)
    return tokenizer.encode(question), tuple(tokenizer.encode("\n"))


def replies(
    model: torch.nn.Module,
    tokenizer: Tokenizer,
    questions: Sequence[str],
    samples: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
) -> tuple[list[list[int]], list[list[int]], list[str]]:
    """(prompt ids, reply ids, reply texts) of ``samples`` replies to every question (each
    question's replies consecutive)."""
    prompts, stops = [], ()
    for q in questions:
        ids, stops = question_ids(tokenizer, q)
        prompts += [ids] * samples
    out: list[list[int]] = []
    for i in range(0, len(prompts), ROWS):
        out += generate_batch(
            model, prompts[i : i + ROWS], ANSWER_TOKENS, temperature=temperature, seed=seed + i, stop_ids=stops
        )
    texts = [tokenizer.decode([t for t in ids if t not in stops]) for ids in out]
    return prompts, out, texts


def task_scores(
    model: torch.nn.Module, tokenizer: Tokenizer, problems: Sequence[Problem], k: int = 8, seed: int = 0
) -> dict[str, float]:
    """``{"accuracy", "pass@k", "problems"}`` on ``problems`` (see the module docstring)."""
    questions = [p.question for p in problems]
    _, _, greedy = replies(model, tokenizer, questions)
    right = np.array([reward(p, t) for p, t in zip(problems, greedy)])
    _, _, sampled = replies(model, tokenizer, questions, k, 1.0, seed)
    hits = np.array([reward(p, t) for p, t in zip(np.repeat(np.array(problems, dtype=object), k), sampled)])
    return {
        "accuracy": float(right.mean()),
        f"pass@{k}": float(hits.reshape(-1, k).max(1).mean()),
        "problems": len(problems),
    }


@torch.no_grad()
def kl_to(
    model: torch.nn.Module,
    reference: torch.nn.Module,
    tokenizer: Tokenizer,
    problems: Sequence[Problem],
    samples: int = 4,
    seed: int = 0,
) -> float:
    """KL(model ‖ reference) per completion, on the model's samples at temperature 1 (see the module docstring)."""
    prompts, out, _ = replies(model, tokenizer, [p.question for p in problems], samples, 1.0, seed)
    total, n = 0.0, 0
    for i in range(0, len(prompts), ROWS):
        sides = encode_sides(list(zip(prompts[i : i + ROWS], out[i : i + ROWS])))
        ids, targets = torch.from_numpy(sides.ids), torch.from_numpy(sides.targets)
        mine = token_logprobs(model.eval()(ids)[0], targets).sum(-1)
        theirs = token_logprobs(reference.eval()(ids)[0], targets).sum(-1)
        total, n = total + float((mine - theirs).sum()), n + len(ids)
    return total / max(n, 1)
