"""Preference pairs and prompts: the JSONL files of the stages after fine-tuning, and their ids.

A **pair** (``glassgpt reward``, ``glassgpt dpo``) is one JSON object per line::

    {"prompt": "12+34=", "chosen": "46", "rejected": "47"}
    {"messages": [{"role": "user", "content": "..."}], "chosen": "...", "rejected": "..."}

A **prompt** (``glassgpt rl --prompts``) is ``{"prompt": "..."}`` or ``{"messages": [...]}``,
with an optional ``"answer"`` (the right reply, when there is one: exact-match accuracy).
``"prompt"`` is a user message; ``"messages"`` is the conversation before the reply.  Every
problem is one ``DataError`` sentence naming the file and line: not JSON, no prompt, a
completion that is not text, an empty completion, chosen identical to rejected, an empty file.

The ids: the prompt is the chat template's rendering of its messages followed by
``<|assistant_start|>`` (``prompt_ids``), a completion its text followed by
``<|assistant_end|>`` (``completion_ids``), exactly what the model reads and writes in a
chat.  A reward model reads one more token, ``<|reward|>`` (``READOUT``), whose position
carries the score.

``encode_sides`` turns (prompt, completion) sequences into the arrays the objectives read:
ids right-padded with 0, next-token targets on the completion only (-1 elsewhere), and the
index of each sequence's last token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassgpt.data.conversations import parse_conversation
from glassgpt.data.text import decode_text
from glassgpt.errors import DataError, TokenizerError
from glassgpt.tokenizers import Tokenizer
from glassgpt.tokenizers.added import encode_ordinary
from glassgpt.tokenizers.chat_template import render, role_tokens

#: the reward model's readout token: its position's state is what the scalar head reads
READOUT = "<|reward|>"
PAIR_EXAMPLE = '{"prompt": "12+34=", "chosen": "46", "rejected": "47"}'
PROMPT_EXAMPLE = '{"prompt": "12+34="} (or {"messages": [...]}, and optionally "answer")'


@dataclass(frozen=True)
class Pair:
    """One preference: the conversation before the reply, the better and the worse reply."""

    messages: tuple[dict, ...]
    chosen: str
    rejected: str
    line: int = 0


@dataclass(frozen=True)
class Prompt:
    """One prompt for RL: the conversation before the reply, and the right reply when known."""

    messages: tuple[dict, ...]
    answer: str | None = None
    line: int = 0

    @property
    def question(self) -> str:
        """The last user message (what a task parses)."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


def _lines(path: Path, example: str) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of a JSONL file."""
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; give a JSONL file with lines like {example}.")
    try:
        text = decode_text(path.read_bytes(), str(path))
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror}); check its permissions.") from None
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path} line {number} is not valid JSON ({exc.msg} at column {exc.colno}); write one object "
                f"per line like {example}."
            ) from None
        if not isinstance(obj, dict):
            raise DataError(f"{path} line {number} is not a JSON object; write one object per line like {example}.")
        out.append((number, obj))
    if not out:
        raise DataError(f"{path} is empty; write one object per line like {example}.")
    return out


def _messages(obj: dict, where: str, example: str) -> tuple[dict, ...]:
    if isinstance(obj.get("prompt"), str):
        return ({"role": "user", "content": obj["prompt"]},)
    if "messages" in obj:
        return parse_conversation(obj, where, require_reply=False).messages
    raise DataError(f'{where} has no "prompt" (text) or "messages"; write it like {example}.')


def read_pairs(path: str | Path) -> list[Pair]:
    """Every pair of a JSONL file (see the module docstring), in file order."""
    path = Path(path)
    pairs = []
    for number, obj in _lines(path, PAIR_EXAMPLE):
        where = f"{path} line {number}"
        messages = _messages(obj, where, PAIR_EXAMPLE)
        for side in ("chosen", "rejected"):
            if not isinstance(obj.get(side), str):
                raise DataError(f'{where} needs "{side}" as text; write it like {PAIR_EXAMPLE}.')
            if not obj[side].strip():
                raise DataError(f"{where}: the {side} completion is empty; every completion needs some text.")
        if obj["chosen"] == obj["rejected"]:
            raise DataError(
                f"{where}: chosen and rejected are the same completion; a pair needs two different replies."
            )
        pairs.append(Pair(messages, obj["chosen"], obj["rejected"], number))
    return pairs


def read_prompts(path: str | Path) -> list[Prompt]:
    """Every prompt of a JSONL file (see the module docstring), in file order."""
    path = Path(path)
    prompts = []
    for number, obj in _lines(path, PROMPT_EXAMPLE):
        where = f"{path} line {number}"
        messages = _messages(obj, where, PROMPT_EXAMPLE)
        answer = obj.get("answer")
        if answer is not None and not isinstance(answer, str):
            raise DataError(f'{where}: "answer" must be text, not {type(answer).__name__}.')
        prompts.append(Prompt(messages, answer, number))
    return prompts


def write_jsonl(path: Path, records: Sequence[dict]) -> None:
    """One JSON object per line (UTF-8)."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def prompt_ids(tokenizer: Tokenizer, messages: Sequence[dict], where: str = "a prompt") -> list[int]:
    """The chat template's ids of ``messages`` followed by ``<|assistant_start|>``."""
    try:
        return render(tokenizer, messages, add_generation_start=True).ids
    except TokenizerError as exc:
        raise DataError(f"{where}: {exc}") from None


def completion_ids(tokenizer: Tokenizer, text: str, where: str = "a completion") -> list[int]:
    """A reply's ids: its text, then ``<|assistant_end|>``."""
    try:
        return [*encode_ordinary(tokenizer, text), role_tokens(tokenizer)["assistant"][1]]
    except TokenizerError as exc:
        raise DataError(f"{where}: {exc}") from None


def readout_id(tokenizer: Tokenizer) -> int:
    """The id of ``<|reward|>``; TokenizerError when the tokenizer is not a reward model's."""
    if READOUT not in tokenizer.special_tokens:
        raise TokenizerError(f"this tokenizer has no {READOUT} token; it is not a reward model's tokenizer.")
    return tokenizer.special_tokens[READOUT]


@dataclass(frozen=True)
class Sides:
    """Sequences as arrays: ``ids`` (N, T) right-padded with 0; ``targets`` (N, T): the next
    token where it belongs to the completion, else -1; ``ends`` (N,): each sequence's last index."""

    ids: np.ndarray
    targets: np.ndarray
    ends: np.ndarray


def encode_sides(sequences: Sequence[tuple[list[int], list[int]]], width: int | None = None) -> Sides:
    """(prompt ids, completion ids [+ readout]) -> ``Sides``; the completion's tokens are the
    targets (a trailing readout token, not a completion token, is passed as part of the
    completion with ``targets`` cut before it by the caller: see ``reward_sides``)."""
    width = width or max(len(p) + len(c) for p, c in sequences)
    n = len(sequences)
    ids = np.zeros((n, width), dtype=np.int64)
    targets = np.full((n, width), -1, dtype=np.int64)
    ends = np.zeros(n, dtype=np.int64)
    for i, (prompt, completion) in enumerate(sequences):
        seq = [*prompt, *completion]
        ids[i, : len(seq)] = seq
        targets[i, len(prompt) - 1 : len(seq) - 1] = completion
        ends[i] = len(seq) - 1
    return Sides(ids, targets, ends)


def reward_sides(sequences: Sequence[tuple[list[int], list[int]]], readout: int, width: int | None = None) -> Sides:
    """As ``encode_sides`` with ``readout`` appended to every sequence: the reward model's input
    (the readout position is ``ends``; it is never a target)."""
    sides = encode_sides([(p, [*c, readout]) for p, c in sequences], width)
    targets = sides.targets.copy()
    targets[np.arange(len(targets)), sides.ends - 1] = -1  # the readout token is read, not predicted
    return Sides(sides.ids, targets, sides.ends)
