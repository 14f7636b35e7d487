"""Steering one generated row: what the decoding loop asks of a constraint or a tool loop.

``generation.sampling.decode_steps`` keeps one ``RowSteer`` per row (or none) and at every
step asks it, in order: is the row over (``done``)?  Must it take a given token now
(``forced``: a tool's output, written by the program, not drawn)?  Otherwise, what are its
logits (``adjust``: the model's (V,) logits in, (V + 1,) out, the last column being the
choice to end the row, −inf when it may not end)?  The token then taken, drawn or forced,
or ``END``, is told to the steer (``push``).
"""

from __future__ import annotations

from typing import Protocol

import torch

#: the id a steered row gets when it ends (the END column, one past the vocabulary, was drawn)
END = -1


class RowSteer(Protocol):
    done: bool

    def forced(self) -> int | None:
        """The token this row must take now, or None to draw one."""

    def adjust(self, logits: torch.Tensor, remaining: int) -> torch.Tensor:
        """(V,) logits -> (V + 1,): what may be drawn, the last entry the end of the row;
        ``remaining``: the tokens left to generate, this one included."""

    def push(self, token: int) -> None:
        """The token the row took (``END`` when it ended)."""
