"""Rung 5: a WaveNet-style hierarchy (van den Oord et al., 2016) over 8 characters.

Giving the MLP a longer context by simply concatenating 8 embeddings into one layer works
(dev 2.027 with context 8), but it crushes all 8 characters into one hidden layer in a
single step.  The WaveNet idea is to merge them *gradually*, as a tree: first neighbouring
pairs (c1c2, c3c4, ...), then pairs of pairs, then the two halves — three levels of
``FlattenConsecutive(2) -> Linear -> BatchNorm -> Tanh`` for a context of 8 = 2^3.  Each
level sees a wider span with the same small layer, so depth grows with log2(context).

Two lessons ride along.  BatchNorm must normalise over the batch *and* the positions of a
3-D activation (N, L, C) — over dims (0, 1) — or each position gets its own, noisier
statistics (the lecture's bug; fixing it gave 2.029 -> 2.022).  And once the structure is
right, scale pays: embedding 24 and 128 hidden units (76,579 parameters) reach dev 1.993.

``group`` generalises the tree: ``block_size`` must be a power of it; ``group = block_size``
is the flat one-layer MLP over the whole context, the baseline of the lecture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from glassgpt.errors import ConfigError
from glassgpt.makemore.models.char_model import CharModel
from glassgpt.makemore.models.layers import BatchNorm1d, Embedding, FlattenConsecutive, Linear, Sequential, Tanh


@dataclass
class WaveNetConfig:
    vocab_size: int = 27
    block_size: int = 8  # characters of context; a power of ``group``
    n_embd: int = 24
    n_hidden: int = 128
    group: int = 2  # neighbours fused per level (block_size: one flat level)
    batchnorm: bool = True  # BatchNorm1d after each hidden Linear (which then has no bias)
    bn_momentum: float = 0.1
    last_layer_scale: float = 0.1  # the output Linear's weights start small: initial loss ~ ln V

    @property
    def levels(self) -> int:
        """How many FlattenConsecutive levels: log_group(block_size)."""
        n, size = 0, 1
        while size < self.block_size:
            size *= self.group
            n += 1
        return n


class WaveNet(CharModel):
    """Embedding -> levels x [FlattenConsecutive(group) -> Linear -> BatchNorm -> Tanh] -> Linear.

    Parameters are named ``net.layers.<i>.<name>`` (``weight``/``bias`` for Embedding and
    Linear, ``gamma``/``beta`` and the running statistics for BatchNorm1d)."""

    def __init__(self, config: WaveNetConfig, generator: torch.Generator):
        super().__init__()
        for name in ("vocab_size", "block_size", "n_embd", "n_hidden"):
            if getattr(config, name) < 1:
                raise ConfigError(f"the WaveNet's {name} must be at least 1, got {getattr(config, name)}.")
        if config.group < 2 and config.block_size > 1:
            raise ConfigError(f"the WaveNet's group must be at least 2, got {config.group}.")
        if config.group**config.levels != config.block_size:
            raise ConfigError(
                f"the WaveNet's block_size {config.block_size} is not a power of its group "
                f"{config.group}; use e.g. block_size {config.group**config.levels}."
            )
        self.config = config
        layers: list[torch.nn.Module] = [Embedding(config.vocab_size, config.n_embd, generator=generator)]
        width = config.n_embd
        for _ in range(max(config.levels, 1)):
            n = min(config.group, config.block_size)
            layers.append(FlattenConsecutive(n))
            layers.append(Linear(width * n, config.n_hidden, bias=not config.batchnorm, generator=generator))
            if config.batchnorm:
                layers.append(BatchNorm1d(config.n_hidden, momentum=config.bn_momentum))
            layers.append(Tanh())
            width = config.n_hidden
        head = Linear(width, config.vocab_size, generator=generator)
        with torch.no_grad():
            head.weight *= config.last_layer_scale
        self.net = Sequential(layers + [head])

    def embedding(self) -> torch.Tensor:
        return self.net.layers[0].weight.detach()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
