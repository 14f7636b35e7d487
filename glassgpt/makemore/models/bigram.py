"""Rung 1: the counting bigram — "training" is counting.

The model predicts the next character from the previous one only.  Its best possible
parameters can be written down without any optimisation: count how often each character
follows each other one (a V x V table, 27 x 27 = 729 numbers for names), and normalise each
row into a probability distribution.  Those relative frequencies maximise the likelihood
of the training data, so no gradient descent can do better with one character of context.

The loss is the average negative log-likelihood (NLL) of the data: 0 would be certain and
correct predictions, ln(27) = 3.30 a uniform guess.  A pair never seen in training has
probability 0 and an infinite loss; *add-k smoothing* adds ``k`` to every count before
normalising ("pretend each pair was seen k more times"), trading a little likelihood on the
training data for a finite, better-behaved model.  The larger k, the closer to uniform.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from glassgpt.errors import ConfigError
from glassgpt.makemore.models.char_model import CharModel


@dataclass
class BigramConfig:
    vocab_size: int = 27
    smoothing: float = 1.0  # add-k: k added to every count before normalising

    @property
    def block_size(self) -> int:
        return 1


class Bigram(CharModel):
    """A V x V table of counts (the buffer ``counts``); probabilities are its smoothed rows."""

    def __init__(self, config: BigramConfig, generator: torch.Generator | None = None):
        super().__init__()
        if config.smoothing < 0:
            raise ConfigError(f"the add-k smoothing must be 0 or more, got {config.smoothing}.")
        self.config = config
        V = config.vocab_size
        self.register_buffer("counts", torch.zeros((V, V), dtype=torch.int64))

    @torch.no_grad()
    def count(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add the pairs (last character of each window, next character) to the table."""
        V = self.config.vocab_size
        pairs = x[:, -1] * V + y
        self.counts += torch.bincount(pairs, minlength=V * V).view(V, V)

    def probs(self) -> torch.Tensor:
        """P (V, V): row i is the distribution of the character after i, with add-k smoothing."""
        N = self.counts.double() + self.config.smoothing
        return N / N.sum(dim=1, keepdim=True)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        # log P is a valid set of logits: softmax(log p) = p
        return self.probs().log().float()[x[:, -1]]

    def num_params(self) -> int:
        """The model is its table: V x V counts (729 for names), although none is trained by gradients."""
        return self.counts.numel()
