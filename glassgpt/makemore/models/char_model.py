"""What every rung of the ladder shares: a fixed window in, one distribution out.

A makemore model reads ``x`` (B, block_size) int64 — the previous characters, ``.``-padded —
and returns ``(logits (B, V), loss)``, the loss being the mean cross-entropy of ``targets``
(B,) when they are given.  That one contract lets the same training loop, evaluation and
sampler serve the counting bigram and the WaveNet alike.

Weights travel as plain tensors named by the state dict (parameters and buffers such as
the BatchNorm running statistics or the bigram's counts), so they fit safetensors.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F

from glassgpt.errors import GlassError


class CharModel(nn.Module):
    """Base class of the ladder's models; subclasses set ``config`` and implement ``logits``."""

    config: object

    @property
    def block_size(self) -> int:
        """How many previous characters the model reads."""
        return self.config.block_size

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, block_size) int64 -> logits (B, V)."""
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of the targets (B,) under softmax(logits)."""
        return F.cross_entropy(logits, targets)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None):
        """x (B, block_size) int64 -> (logits (B, V), loss or None)."""
        if x.dim() != 2 or x.shape[1] != self.block_size:
            raise GlassError(
                f"this model reads windows of {self.block_size} characters, but got input of shape {tuple(x.shape)}."
            )
        logits = self.logits(x)
        return logits, (None if targets is None else self.loss(logits, targets))

    def embedding(self) -> torch.Tensor | None:
        """The (V, n_embd) table of character vectors, for the embedding scatter; None for the
        bigrams, which have no embedding."""
        return None

    def num_params(self) -> int:
        """Number of trained numbers (the parameters; buffers are not counted)."""
        return sum(p.numel() for p in self.parameters())

    def param_table(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(name, shape, count) of every parameter, in definition order."""
        return [(n, tuple(p.shape), p.numel()) for n, p in self.named_parameters()]

    def config_dict(self) -> dict:
        """The configuration as a JSON-able dict."""
        return dataclasses.asdict(self.config)

    def weights(self) -> dict[str, torch.Tensor]:
        """Parameters and buffers by name (what a checkpoint stores)."""
        return {name: t.detach() for name, t in self.state_dict().items()}

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load ``weights()``-style tensors; one sentence for any name or shape that does not fit."""
        own = self.state_dict()
        missing, extra = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
        if missing or extra:
            raise GlassError(
                f"the weights do not fit this model (missing {missing[:3]}, unexpected {extra[:3]}); "
                "the checkpoint was made for a different configuration."
            )
        for name, t in tensors.items():
            if tuple(t.shape) != tuple(own[name].shape):
                raise GlassError(
                    f"weight {name} has shape {tuple(t.shape)} but the model expects {tuple(own[name].shape)}."
                )
        self.load_state_dict(tensors)
