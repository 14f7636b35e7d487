"""Conversations -> training rows: encoded with the chat template, packed best-fit, padded.

Each conversation becomes one example (x, y) of ``len(ids) - 1`` positions (``Rendered.
training_pair``: targets of -1 everywhere the loss does not count).  A row holds up to
``context`` positions.  Conversations are never cut to fit a row: they are packed whole,
**best fit** (each goes into the open row with the least room that still fits it, else a
new row), and the rest of each row is padding (token 0, target -1, a segment of its own).
Every conversation in a row is its own segment: it attends only to itself and its
positions start at 0, so it is computed exactly as if it were alone.

A conversation longer than the context (``len(ids) - 1 > context``) is refused
(``overflow="error"``, naming its line) or cut to its first ``context + 1`` tokens
(``overflow="truncate"``); a cut conversation left with no counted target is dropped.
``EncodedSet.report`` counts them.

``SFTBatches`` serves training rows: every epoch shuffles the conversations (a generator
seeded with (seed, epoch)) and packs them again; ``next(n)`` returns n rows (crossing into
the next epoch when one runs out) as (x, y, segments).  Its state is (epoch, row): plain
JSON, so a resumed run continues with exactly the rows it would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from glassgpt.data.conversations import Conversation
from glassgpt.data.rows import best_fit, fill_rows
from glassgpt.errors import DataError, TokenizerError
from glassgpt.tokenizers import Tokenizer
from glassgpt.tokenizers.chat_template import Rendered, render

OVERFLOW = ("error", "truncate")


@dataclass
class EncodedSet:
    """Examples (x, y) ready for rows, and what happened on the way."""

    examples: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the source line of each example
    report: dict = field(
        default_factory=lambda: {"conversations": 0, "truncated": 0, "dropped": 0, "counted_targets": 0, "positions": 0}
    )


def encode_conversations(
    conversations: list[Conversation], tokenizer: Tokenizer, context: int, overflow: str = "error", source: str = ""
) -> EncodedSet:
    """Apply the template to every conversation and check it against the context (see the module docstring)."""
    if overflow not in OVERFLOW:
        raise DataError(f"--overflow must be error or truncate, not {overflow!r}.")
    out = EncodedSet()
    for conv in conversations:
        where = f"{source} line {conv.line}" if conv.line else (source or "a conversation")
        try:
            rendered = render(tokenizer, conv.messages)
        except TokenizerError as exc:
            raise DataError(f"{where}: {exc}") from None
        positions = len(rendered.ids) - 1
        if positions > context:
            if overflow == "error":
                raise DataError(
                    f"{where}: the conversation is {len(rendered.ids)} tokens, more than the model's "
                    f"context of {context} + 1; shorten it or pass --overflow truncate."
                )
            rendered = Rendered(rendered.ids[: context + 1], rendered.counted[: context + 1])
            if not any(rendered.counted[1:]):
                out.report["dropped"] += 1
                continue
            out.report["truncated"] += 1
        x, y = rendered.training_pair()
        out.examples.append((x, y))
        out.lines.append(conv.line)
        out.report["conversations"] += 1
        out.report["counted_targets"] += int((y >= 0).sum())
        out.report["positions"] += len(x)
    return out


def eval_batches(examples, capacity: int, batch_size: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The examples in file order, packed best fit and cut into batches of ``batch_size`` rows."""
    x, y, seg = fill_rows(examples, best_fit([len(e[0]) for e in examples], capacity), capacity)
    return [
        (x[i : i + batch_size], y[i : i + batch_size], seg[i : i + batch_size]) for i in range(0, len(x), batch_size)
    ]


class SFTBatches:
    """Training rows, reshuffled and repacked every epoch (see the module docstring)."""

    def __init__(self, examples: list[tuple[np.ndarray, np.ndarray]], capacity: int, seed: int):
        if not examples:
            raise DataError("no conversations are left to train on.")
        self.examples, self.capacity, self.seed = examples, capacity, seed
        self.epoch, self.row = 0, 0
        self._rows = self._pack(0)

    def _pack(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.examples))
        shuffled = [self.examples[i] for i in order]
        return fill_rows(shuffled, best_fit([len(e[0]) for e in shuffled], self.capacity), self.capacity)

    def next(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = []
        while n > 0:
            available = len(self._rows[0]) - self.row
            if available == 0:
                self.epoch, self.row = self.epoch + 1, 0
                self._rows = self._pack(self.epoch)
                continue
            take = min(n, available)
            parts.append(tuple(a[self.row : self.row + take] for a in self._rows))
            self.row += take
            n -= take
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

    def state(self) -> dict:
        return {"epoch": self.epoch, "row": self.row}

    def set_state(self, state: dict) -> None:
        self.epoch, self.row = int(state["epoch"]), int(state["row"])
        self._rows = self._pack(self.epoch)
