"""Tool use while generating: the model writes a calculator call, the program writes the answer.

A chat run whose conversations called tools has the tool tokens
(``tokenizers.chat_template.TOOL_SPECIALS``).  While it replies, ``ToolRow`` (a ``RowSteer``)
watches the tokens it draws:

1. ``<|tool_start|>`` opens a call; the tokens after it are the expression;
2. ``<|tool_end|>`` closes it: the expression is decoded and given to the calculator
   (``generation.calculator``), and ``<|output_start|>``, the result's tokens and
   ``<|output_end|>`` are **forced** into the stream, one per step, without drawing (a
   call that is not arithmetic, or divides by zero, gets ``error: <the sentence>`` as its
   output: the model sees the error, generation goes on);
3. the model then continues, reading the output like any other context.

The model may never write the output tokens itself, nor close a call it did not open or
open one inside another: those logits are −inf.  ``parts(tokenizer, ids)`` splits a reply
into text, tool calls and outputs, for display and for scoring the text alone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import torch

from glassgpt.generation.calculator import ToolError, calculate
from glassgpt.generation.steering import END
from glassgpt.tokenizers import Tokenizer, encode_ordinary
from glassgpt.tokenizers.chat_template import TOOL_CALL, TOOL_OUTPUT, tool_tokens


@dataclass(frozen=True)
class ToolCall:
    expression: str
    output: str
    error: bool


class ToolRow:
    """One reply that may call the calculator (see the module docstring)."""

    def __init__(self, tokenizer: Tokenizer, ids: dict[str, int]):
        self.tokenizer = tokenizer
        self.start, self.end = ids[TOOL_CALL[0]], ids[TOOL_CALL[1]]
        self.out_start, self.out_end = ids[TOOL_OUTPUT[0]], ids[TOOL_OUTPUT[1]]
        self.call: list[int] | None = None  # the expression being written
        self.queue: deque[int] = deque()  # forced tokens still to come
        self.forcing = False
        self.calls: list[ToolCall] = []
        self.done = False

    def forced(self) -> int | None:
        self.forcing = bool(self.queue)
        return self.queue.popleft() if self.queue else None

    def adjust(self, logits: torch.Tensor, remaining: int) -> torch.Tensor:
        out = torch.cat([logits, logits.new_full((1,), float("-inf"))])
        out[[self.out_start, self.out_end, self.start if self.call is not None else self.end]] = float("-inf")
        return out

    def push(self, token: int) -> None:
        if token == END:
            self.done = True
        elif self.forcing:
            self.forcing = False
        elif token == self.start:
            self.call = []
        elif token == self.end and self.call is not None:
            self._answer(self.tokenizer.decode(self.call))
            self.call = None
        elif self.call is not None:
            self.call.append(token)

    def _answer(self, expression: str) -> None:
        try:
            output, error = calculate(expression), False
        except ToolError as exc:
            output, error = f"error: {exc}", True
        self.calls.append(ToolCall(expression, output, error))
        self.queue.extend([self.out_start, *encode_ordinary(self.tokenizer, output), self.out_end])


def tool_rows(tokenizer: Tokenizer) -> Callable[[int], ToolRow] | None:
    """The ``steer`` of ``generate`` that runs tool calls, or None when the tokenizer has no tool tokens."""
    ids = tool_tokens(tokenizer)
    if ids is None:
        return None
    return lambda row: ToolRow(tokenizer, ids)


def parts(tokenizer: Tokenizer, ids: list[int]) -> list[dict]:
    """A reply's ids as parts: ``{"type": "text" | "tool" | "output", "text": ...}``, in order."""
    tools = tool_tokens(tokenizer) or {}
    after = {tools[TOOL_CALL[0]]: "tool", tools[TOOL_OUTPUT[0]]: "output"} if tools else {}
    after.update({tools[TOOL_CALL[1]]: "text", tools[TOOL_OUTPUT[1]]: "text"} if tools else {})
    out: list[dict] = []
    kind, run = "text", []
    for i in ids:
        if i in after:
            if run:
                out.append({"type": kind, "text": tokenizer.decode(run)})
            kind, run = after[i], []
        else:
            run.append(i)
    if run:
        out.append({"type": kind, "text": tokenizer.decode(run)})
    return out


def reply_content(tokenizer: Tokenizer, ids: list[int]) -> str | list[dict]:
    """A reply as a message's content: its text, or with tool calls, the parts the chat template
    renders back to the same ids (``{"type": "tool", "text", "output"}`` and text parts)."""
    shown = parts(tokenizer, ids)
    if not any(p["type"] != "text" for p in shown):
        return "".join(p["text"] for p in shown)
    content: list[dict] = []
    for p in shown:
        if p["type"] == "output" and content and content[-1]["type"] == "tool":
            content[-1]["output"] = p["text"]
        elif p["type"] == "tool":
            content.append({"type": "tool", "text": p["text"], "output": ""})
        elif p["type"] == "text":
            content.append({"type": "text", "text": p["text"]})
    return content


def text_of(tokenizer: Tokenizer, ids: list[int]) -> str:
    """The reply's text without its tool calls and outputs (what is scored)."""
    return "".join(p["text"] for p in parts(tokenizer, ids) if p["type"] == "text")
