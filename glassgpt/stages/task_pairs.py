"""Preference pairs made from a task: a right answer against a wrong one, sampled from the policy.

``--pairs arithmetic`` (``glassgpt reward``, ``glassgpt dpo``) needs no file: for each of
``n`` training problems the policy answers ``samples`` times at temperature 1.  The chosen
reply is one of its right answers (the right answer itself when it gave none), the rejected
one of its wrong answers (a plausible wrong one, ``arithmetic.wrong_answer``, when it gave
none), each picked with a generator seeded by ``seed``.  So the pairs show what this policy
actually gets wrong: what a reward model should learn to see, and what DPO should push down.
The problems are distinct and never held out.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from glassgpt.data.pairs import write_jsonl
from glassgpt.evaluation.task import replies
from glassgpt.tasks import arithmetic, task_spec
from glassgpt.tokenizers import Tokenizer

#: replies sampled per problem
SAMPLES = 4


def task_pairs(
    model: torch.nn.Module, tokenizer: Tokenizer, spec: str, n: int, seed: int, samples: int = SAMPLES
) -> list[dict]:
    """``n`` pairs ``{"prompt", "chosen", "rejected"}`` for the task ``spec`` (see the module docstring)."""
    difficulty = task_spec(spec)
    problems = list(dict.fromkeys(arithmetic.problems(4 * n, seed, difficulty)))[:n]
    _, _, texts = replies(model, tokenizer, [p.question for p in problems], samples, 1.0, seed)
    rng = random.Random(seed)
    pairs = []
    for i, problem in enumerate(problems):
        answers = [t.strip() for t in texts[i * samples : (i + 1) * samples]]
        right = [a for a in answers if arithmetic.reward(problem, a) == 1.0]
        wrong = [a for a in answers if arithmetic.reward(problem, a) == 0.0 and a]
        chosen = rng.choice(right) if right else problem.answer
        rejected = rng.choice(wrong) if wrong else arithmetic.wrong_answer(problem, rng)
        pairs.append({"prompt": problem.question, "chosen": chosen, "rejected": rejected})
    return pairs


def write_task_pairs(path: Path, *args, **kwargs) -> Path:
    """``task_pairs(...)`` written as a pairs file at ``path``."""
    write_jsonl(path, task_pairs(*args, **kwargs))
    return path
