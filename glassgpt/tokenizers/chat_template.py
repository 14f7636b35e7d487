"""The chat template: a conversation -> token ids, and which of them the loss counts.

A conversation is a list of messages ``{"role": "system" | "user" | "assistant",
"content": text}``.  Each message becomes its role's start token, its content (encoded with
special-token text as plain text, so typing ``<|user_end|>`` can never forge a turn) and
its role's end token::

    <|system_start|>Be brief.<|system_end|><|user_start|>Hi<|user_end|><|assistant_start|>Hello.<|assistant_end|>

Supervised fine-tuning trains the ordinary next-token loss on these ids, but only
**assistant content and** ``<|assistant_end|>`` count: those are what the model must
learn to write, and predicting ``<|assistant_end|>`` is how it learns to stop.  Every
other target (system and user text, all start tokens, the other end tokens) is masked
(-1 in the targets).  To answer, the model is given the conversation followed by
``<|assistant_start|>`` and generates until ``<|assistant_end|>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers.added import encode_ordinary
from glassgpt.tokenizers.base import Tokenizer

ROLES = ("system", "user", "assistant")
#: the chat special tokens, in the order they are added to a tokenizer
CHAT_SPECIALS = tuple(f"<|{role}_{edge}|>" for role in ROLES for edge in ("start", "end"))


def role_tokens(tokenizer: Tokenizer) -> dict[str, tuple[int, int]]:
    """``{role: (start id, end id)}``; TokenizerError when the tokenizer lacks the chat tokens."""
    specials = tokenizer.special_tokens
    missing = [s for s in CHAT_SPECIALS if s not in specials]
    if missing:
        raise TokenizerError(
            f"this tokenizer has no chat tokens ({missing[0]} is missing); fine-tune the run "
            "with `glassgpt finetune RUN --sft FILE.jsonl --out NEW_RUN` first."
        )
    return {role: (specials[f"<|{role}_start|>"], specials[f"<|{role}_end|>"]) for role in ROLES}


def reply_stop_ids(tokenizer: Tokenizer) -> tuple[int, ...]:
    """The ids that end a generated reply: ``<|assistant_end|>`` first, then every other chat
    token (a model that writes one of them has left its turn; none belongs inside a reply)."""
    end = role_tokens(tokenizer)["assistant"][1]
    return (end, *(tokenizer.special_tokens[s] for s in CHAT_SPECIALS if tokenizer.special_tokens[s] != end))


def is_chat_tokenizer(tokenizer: Tokenizer) -> bool:
    """Whether the tokenizer holds every chat token (the run was fine-tuned for chat)."""
    return all(s in tokenizer.special_tokens for s in CHAT_SPECIALS)


@dataclass(frozen=True)
class Rendered:
    """A conversation as ids; ``counted[i]``: token i is a target the loss counts."""

    ids: list[int]
    counted: list[bool]

    def training_pair(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) for the language-model loss: x = ids[:-1], y = ids[1:] with -1 where not counted."""
        ids = np.asarray(self.ids, dtype=np.int64)
        y = np.where(np.asarray(self.counted[1:], dtype=bool), ids[1:], -1)
        return ids[:-1], y


def render(
    tokenizer: Tokenizer, messages: Sequence[Mapping[str, str]], *, add_generation_start: bool = False
) -> Rendered:
    """The template applied to ``messages``; ``add_generation_start`` appends ``<|assistant_start|>``
    (the prompt for the model's next reply)."""
    tokens = role_tokens(tokenizer)
    ids: list[int] = []
    counted: list[bool] = []
    for message in messages:
        role = message["role"]
        if role not in tokens:
            raise TokenizerError(f"unknown role {role!r}; a message's role is one of {', '.join(ROLES)}.")
        start, end = tokens[role]
        content = encode_ordinary(tokenizer, message["content"])
        answer = role == "assistant"
        ids += [start, *content, end]
        counted += [False] + [answer] * len(content) + [answer]
    if add_generation_start:
        ids.append(tokens["assistant"][0])
        counted.append(False)
    return Rendered(ids, counted)
