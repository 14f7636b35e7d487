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

**Tool calls.**  An assistant message's content may also be a list of parts: text parts
``{"type": "text", "text": ...}`` and tool parts ``{"type": "tool", "text": "12+34",
"output": "46"}``.  A tool part becomes the call and, right after it, what the tool
answered::

    <|assistant_start|><|tool_start|>12+34<|tool_end|><|output_start|>46<|output_end|>46<|assistant_end|>

The model writes the call (counted, like any reply text, ``<|tool_end|>`` included); the
output is written by the program, not the model (``generation.tools`` forces it into the
stream), so ``<|output_start|>``, the output and ``<|output_end|>`` are masked out of the
loss.  The tool tokens (``TOOL_SPECIALS``) are added to a tokenizer only when its
conversations call tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers.added import encode_ordinary
from glassgpt.tokenizers.base import Tokenizer

ROLES = ("system", "user", "assistant")
#: the chat special tokens, in the order they are added to a tokenizer
CHAT_SPECIALS = tuple(f"<|{role}_{edge}|>" for role in ROLES for edge in ("start", "end"))
#: a tool call and its output: added after the chat tokens when the conversations call tools
TOOL_CALL, TOOL_OUTPUT = ("<|tool_start|>", "<|tool_end|>"), ("<|output_start|>", "<|output_end|>")
TOOL_SPECIALS = (*TOOL_CALL, *TOOL_OUTPUT)


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


def tool_tokens(tokenizer: Tokenizer) -> dict[str, int] | None:
    """``{name: id}`` of the tool tokens, or None when the tokenizer lacks any of them."""
    specials = tokenizer.special_tokens
    if any(s not in specials for s in TOOL_SPECIALS):
        return None
    return {s: specials[s] for s in TOOL_SPECIALS}


def uses_tools(messages: Sequence[Mapping]) -> bool:
    """Whether an assistant message of the conversation calls a tool."""
    return any(
        isinstance(m["content"], list) and any(part.get("type") == "tool" for part in m["content"]) for m in messages
    )


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
    tokenizer: Tokenizer, messages: Sequence[Mapping[str, Any]], *, add_generation_start: bool = False
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
        answer = role == "assistant"
        ids.append(start)
        counted.append(False)
        if isinstance(message["content"], str):
            content = encode_ordinary(tokenizer, message["content"])
            ids += content
            counted += [answer] * len(content)
        else:
            _render_parts(tokenizer, message["content"], ids, counted)
        ids.append(end)
        counted.append(answer)
    if add_generation_start:
        ids.append(tokens["assistant"][0])
        counted.append(False)
    return Rendered(ids, counted)


def _render_parts(
    tokenizer: Tokenizer, parts: Sequence[Mapping[str, Any]], ids: list[int], counted: list[bool]
) -> None:
    """An assistant's parts: text and tool calls counted, tool outputs masked (see the module docstring)."""
    for part in parts:
        text = encode_ordinary(tokenizer, part["text"])
        if part["type"] == "text":
            ids += text
            counted += [True] * len(text)
            continue
        tools = tool_tokens(tokenizer)
        if tools is None:
            raise TokenizerError(
                "this tokenizer has no tool tokens (<|tool_start|> is missing); fine-tune on conversations "
                "that call tools to add them."
            )
        output = encode_ordinary(tokenizer, part["output"])
        ids += [tools[TOOL_CALL[0]], *text, tools[TOOL_CALL[1]], tools[TOOL_OUTPUT[0]], *output, tools[TOOL_OUTPUT[1]]]
        counted += [True] * (len(text) + 2) + [False] * (len(output) + 2)
