"""Rung 2: the neural bigram — the counting bigram again, found by gradient descent.

The previous character becomes a one-hot vector and is multiplied by a V x V weight matrix
W.  Multiplying a one-hot vector by W just picks one row of W, so the model is still a
table with one row per previous character; the difference is how the table is found.  The
row is read as *log-counts* ("logits"); exponentiating gives positive "counts" and dividing
by their sum gives probabilities — the softmax, written out below step by step.  Gradient
descent on the NLL then pushes W toward the log of the count table, so softmax(W) becomes
the counting bigram's probabilities (the tests check the correlation).

Smoothing has a twin here: an L2 penalty ``l2 * mean(W**2)`` pulls every logit toward 0,
i.e. every row toward the uniform distribution — the stronger the penalty, the more the
result looks like a count table with a larger add-k.  The penalty belongs to the training
objective: in eval mode the loss is the plain NLL, comparable with every other rung.

Nothing is gained in quality over counting (one character of context is one character of
context), but the framework is the one every later rung reuses: logits from parameters,
softmax, NLL, gradients.  Only the function that computes the logits will grow.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from glassgpt.errors import ConfigError
from glassgpt.makemore.models.char_model import CharModel


@dataclass
class NeuralBigramConfig:
    vocab_size: int = 27
    l2: float = 0.01  # weight of mean(W**2) in the loss (0: off)

    @property
    def block_size(self) -> int:
        return 1


class NeuralBigram(CharModel):
    """One weight matrix ``W`` (V, V) initialised N(0, 1); logits = onehot(previous) @ W."""

    def __init__(self, config: NeuralBigramConfig, generator: torch.Generator):
        super().__init__()
        if config.l2 < 0:
            raise ConfigError(f"the L2 strength must be 0 or more, got {config.l2}.")
        self.config = config
        V = config.vocab_size
        self.W = nn.Parameter(torch.randn((V, V), generator=generator))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        xenc = F.one_hot(x[:, -1], num_classes=self.config.vocab_size).float()
        return xenc @ self.W  # log-counts

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        counts = logits.exp()  # "counts", positive
        probs = counts / counts.sum(dim=1, keepdim=True)  # softmax, written out
        nll = -probs[torch.arange(len(targets)), targets].log().mean()
        if not self.training:
            return nll  # evaluation: the plain NLL
        return nll + self.config.l2 * (self.W**2).mean()

    def probs(self) -> torch.Tensor:
        """softmax(W): row i is the learned distribution of the character after i."""
        return torch.softmax(self.W.detach(), dim=1)
