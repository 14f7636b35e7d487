"""The arithmetic task: generated problems with one right answer, ``12+34=46``.

A small verifiable task that ships with glassgpt, so the stages after pretraining (a reward
model, RL, DPO, LoRA) can be run, measured and compared on a laptop: a completion is right
or wrong, and a program can tell which.

- **Problems.**  ``a+b`` and ``a-b`` with operands of 1 to ``digits`` digits (the number of
  digits is drawn first, uniformly, then the value: small numbers are as common as large
  ones).  ``Difficulty`` holds the options: the largest number of digits, the operations,
  and whether a difference may be negative (off: ``a-b`` is written with ``a >= b``).
  ``Difficulty.parse("digits=2,ops=+")`` reads them from text (``--task arithmetic:digits=2``).
- **The held-out split is fixed.**  Whether a problem is held out depends only on its text
  (the first two bytes of its SHA-256 below ``HELD_OUT_SHARE``: about one problem in ten),
  never on a seed or a difficulty, so no training draw can ever contain a held-out problem
  and every run is scored on the same problems.  ``problems(n, seed, split="train")`` draws
  from the rest; ``held_out(n)`` is the first ``n`` held-out problems of one fixed stream.
- **The reward is exact match**: ``reward(prompt, completion)`` is 1.0 when the completion,
  stripped of surrounding whitespace, is the answer, else 0.0.  ``parse`` reads a problem
  back from a prompt (``"12+34="``, with or without the ``=``), so any file of such prompts
  can be scored.
- **Two formats.**  Plain text, for pretraining: one problem per line, ``12+34=46``
  (``corpus``).  A chat, for fine-tuning and the stages after it: the user writes the
  question (``12+34=``), the assistant the answer (``46``) (``conversation``; ``sft_lines``
  is ``--sft arithmetic``'s file).
- **With a tool.**  The tool-use variant (``--sft arithmetic-tools``) answers by calling the
  calculator first: the assistant writes the call ``12+34``, the calculator's output ``46`` is
  forced into the stream, and the assistant then writes the answer (``tool_conversation``;
  ``generation.tools`` runs the call, the output is masked out of the loss).

Everything is plain Python and deterministic: ``problems(100, seed=1)`` is the same list on
every machine and every version of Python.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from glassgpt.errors import ConfigError, DataError

#: the name the commands take (``--task arithmetic``, ``--pairs arithmetic``, ``--corpus arithmetic``)
NAME = "arithmetic"
#: the tool-use variant's name (``--sft arithmetic-tools``): the same problems, answered with the calculator
TOOLS_NAME = "arithmetic-tools"
#: the characters of every problem and answer (the pretraining corpus's vocabulary, with the newline)
ALPHABET = "0123456789+-="
#: a problem is held out when the first two bytes of the SHA-256 of its question, as a number, are below this
#: share of 65,536 (about 10%)
HELD_OUT_SHARE = 0.1
#: the seed of the held-out stream (``held_out``): fixed, so the held-out problems never change
HELD_OUT_SEED = 20240622
#: problems in the pretraining corpus (``corpus``): about 1.9 MB of text
CORPUS_PROBLEMS = 200_000
CORPUS_SEED = 0
#: problems of the supervised fine-tuning conversations (``sft_lines``: ``--sft arithmetic``)
SFT_PROBLEMS = 5_000
SFT_SEED = 1
OPS = ("+", "-")
MAX_DIGITS = 3
PROBLEM = re.compile(r"^\s*(-?\d+)\s*([+-])\s*(-?\d+)\s*=?\s*$")


@dataclass(frozen=True)
class Difficulty:
    """Which problems are drawn: operands of 1 to ``digits`` digits, the operations in ``ops``,
    and differences below zero only with ``negative``."""

    digits: int = MAX_DIGITS
    ops: str = "+-"
    negative: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.digits <= MAX_DIGITS:
            raise ConfigError(f"the arithmetic task's digits must be 1 to {MAX_DIGITS}, got {self.digits}.")
        if not self.ops or any(op not in OPS for op in self.ops) or len(set(self.ops)) != len(self.ops):
            raise ConfigError(f"the arithmetic task's ops must be +, - or +-, got {self.ops!r}.")

    @classmethod
    def parse(cls, text: str) -> Difficulty:
        """Options written ``digits=2,ops=+,negative=true`` (any of them, in any order; "" is the default)."""
        values: dict[str, object] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if key == "digits" and value.isdigit():
                values["digits"] = int(value)
            elif key == "ops" and value:
                values["ops"] = value
            elif key == "negative" and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                values["negative"] = value.lower() in ("true", "1", "yes")
            else:
                raise ConfigError(
                    f"unknown arithmetic option {part!r}; write digits=1..{MAX_DIGITS}, ops=+|-|+- or "
                    "negative=true|false, separated by commas."
                )
        return cls(**values)  # type: ignore[arg-type]

    def spec(self) -> str:
        """The text ``parse`` reads back to this difficulty."""
        return f"digits={self.digits},ops={self.ops},negative={str(self.negative).lower()}"


@dataclass(frozen=True)
class Problem:
    """``a op b``: its question (``"12+34="``), its answer (``"46"``) and its line (``"12+34=46"``)."""

    a: int
    op: str
    b: int

    @property
    def question(self) -> str:
        return f"{self.a}{self.op}{self.b}="

    @property
    def value(self) -> int:
        return self.a + self.b if self.op == "+" else self.a - self.b

    @property
    def answer(self) -> str:
        return str(self.value)

    @property
    def line(self) -> str:
        return self.question + self.answer


def is_held_out(problem: Problem) -> bool:
    """Whether ``problem`` belongs to the fixed held-out split (its question's hash decides)."""
    digest = hashlib.sha256(problem.question.encode("ascii")).digest()
    return int.from_bytes(digest[:2], "big") < HELD_OUT_SHARE * 65536


def _operand(rng: random.Random, digits: int) -> int:
    n = rng.randint(1, digits)
    return rng.randint(0 if n == 1 else 10 ** (n - 1), 10**n - 1)


def _stream(seed: int, difficulty: Difficulty) -> Iterator[Problem]:
    rng = random.Random(seed)
    while True:
        a, b, op = _operand(rng, difficulty.digits), _operand(rng, difficulty.digits), rng.choice(difficulty.ops)
        if op == "-" and a < b and not difficulty.negative:
            a, b = b, a
        yield Problem(a, op, b)


def problems(n: int, seed: int, difficulty: Difficulty | None = None, split: str = "train") -> list[Problem]:
    """``n`` problems drawn with ``seed`` from the ``split`` ("train": never a held-out problem;
    "held-out": only held-out ones).  Problems may repeat, as in any sample."""
    if split not in ("train", "held-out"):
        raise ConfigError(f"the arithmetic task's splits are train and held-out, not {split!r}.")
    want = split == "held-out"
    out: list[Problem] = []
    for problem in _stream(seed, difficulty or Difficulty()):
        if len(out) == n:
            break
        if is_held_out(problem) == want:
            out.append(problem)
    return out


def held_out(n: int = 500, difficulty: Difficulty | None = None) -> list[Problem]:
    """The first ``n`` problems of the fixed held-out split: the problems every run is scored on."""
    return problems(n, HELD_OUT_SEED, difficulty, split="held-out")


def parse(prompt: str) -> Problem:
    """The problem a prompt asks (``"12+34="`` or ``"12+34"``); DataError when it is not one."""
    match = PROBLEM.match(prompt)
    if match is None:
        raise DataError(f"{prompt!r} is not an arithmetic problem; write it like 12+34= (addition or subtraction).")
    return Problem(int(match.group(1)), match.group(2), int(match.group(3)))


def reward(prompt: str | Problem, completion: str) -> float:
    """Exact match: 1.0 when ``completion`` (surrounding whitespace ignored) is the answer, else 0.0."""
    problem = prompt if isinstance(prompt, Problem) else parse(prompt)
    return 1.0 if completion.strip() == problem.answer else 0.0


def conversation(problem: Problem, answer: str | None = None) -> dict:
    """The chat form: ``{"messages": [user: question, assistant: answer]}`` (``answer``: another
    reply than the right one, e.g. a wrong answer for a preference pair)."""
    reply = problem.answer if answer is None else answer
    return {"messages": [{"role": "user", "content": problem.question}, {"role": "assistant", "content": reply}]}


def tool_conversation(problem: Problem) -> dict:
    """The tool-use form: the assistant calls the calculator with the problem (``12+34``), then
    writes the answer; the output of the call is the calculator's, filled in when it is read."""
    reply = [{"type": "tool", "text": f"{problem.a}{problem.op}{problem.b}"}, {"type": "text", "text": problem.answer}]
    return {"messages": [{"role": "user", "content": problem.question}, {"role": "assistant", "content": reply}]}


def sft_lines(
    n: int = SFT_PROBLEMS, seed: int = SFT_SEED, difficulty: Difficulty | None = None, tools: bool = False
) -> str:
    """Fine-tuning conversations: ``n`` training problems in the chat form (``tools``: the
    tool-use form), one JSON object per line."""
    form = tool_conversation if tools else conversation
    return "".join(json.dumps(form(p)) + "\n" for p in problems(n, seed, difficulty))


def corpus(n: int = CORPUS_PROBLEMS, seed: int = CORPUS_SEED, difficulty: Difficulty | None = None) -> str:
    """Pretraining text: ``n`` training problems with their answers, one per line."""
    return "".join(p.line + "\n" for p in problems(n, seed, difficulty))


def wrong_answer(problem: Problem, rng: random.Random) -> str:
    """A plausible wrong answer: the right one off by 1, 10 or 100 either way, or two of its
    digits swapped; always a number written the usual way, never the right one."""
    while True:
        digits = list(problem.answer.lstrip("-"))
        if rng.randrange(3) == 0 and len(digits) > 1:
            i = rng.randrange(len(digits) - 1)
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
            text = ("-" if problem.value < 0 else "") + "".join(digits)
        else:
            text = str(problem.value + rng.choice((-1, 1)) * rng.choice((1, 10, 100)))
        if text != problem.answer and text == str(int(text)):
            return text
