"""Rungs 3 and 4: the Bengio et al. (2003) MLP, then its initialisation fixes and BatchNorm.

**Why it beats the bigram.**  A count table over k previous characters needs 27^k rows, most
never seen.  The MLP instead gives each character a learned vector (the embedding ``C``,
10 numbers), concatenates the vectors of the last 3 characters and lets a tanh hidden layer
(200 units) combine them.  Characters that behave alike get nearby vectors, so what is
learned about one transfers to the other, and the parameter count grows linearly with the
context instead of exponentially.  Names: dev loss 2.17 against the bigram's ~2.45.

**Why the fixes help** (same network, ``small_output`` and ``hidden_init``):

* *Confidently wrong at step 0.*  With N(0, 1) output weights the initial logits are large
  and random, so the first loss is ~27 instead of the -ln(1/27) = 3.30 of an honest uniform
  guess; the first thousands of steps only undo that.  ``small_output`` scales W2 by 0.01
  and zeros b2: the logits start near 0 and the loss near 3.30.
* *Saturated tanh.*  N(0, 1) weights over 30 inputs give pre-activations of std ~5.5, so most
  tanh units sit at +-1 where their gradient 1 - tanh^2 is ~0: those units barely learn.
  ``hidden_init="small"`` scales W1 by 0.2 (the hand-tuned value), ``"kaiming"`` by
  gain / sqrt(fan_in) with gain 5/3 for tanh (Kaiming): pre-activations of std ~5/3 instead of
  ~5.5, the tanh in its useful range, few saturated units.  b1 starts small (x 0.01) in both.
* *BatchNorm* (``batchnorm=True``) removes the guesswork: the pre-activations are normalised
  to zero mean and unit variance over the batch, then scaled and shifted by learned gamma and
  beta.  The preceding Linear drops its bias (BatchNorm's mean subtraction would cancel it).
  The lecture's momentum for the running statistics is 0.001.

The fixes matter little for this shallow net (dev 2.17 -> ~2.10), but they are what makes
deep ones trainable at all — the WaveNet rung relies on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from glassgpt.errors import ConfigError
from glassgpt.makemore.models.char_model import CharModel
from glassgpt.makemore.models.layers import BatchNorm1d, Embedding, Linear, Tanh

#: tanh's gain: (5/3) / sqrt(fan_in) keeps activations in tanh's working range (Kaiming et al.)
TANH_GAIN = 5.0 / 3.0
HIDDEN_INITS = ("randn", "small", "kaiming")


@dataclass
class MLPConfig:
    vocab_size: int = 27
    block_size: int = 3  # characters of context
    n_embd: int = 10  # size of each character's vector
    n_hidden: int = 200  # tanh units
    small_output: bool = False  # fix 1: W2 x 0.01, b2 = 0 -> initial loss ~ -ln(1/V)
    hidden_init: str = "randn"  # fix 2: "randn" N(0,1) | "small" x 0.2 | "kaiming" x (5/3)/sqrt(fan_in)
    batchnorm: bool = False  # BatchNorm1d between the hidden Linear and the tanh
    bn_momentum: float = 0.001
    hidden_bias: bool | None = None  # None: a bias unless BatchNorm follows


class MLP(CharModel):
    """Embedding ``C`` -> concatenate -> ``hidden`` Linear -> [``bn``] -> tanh -> ``out`` Linear.

    Parameter names: ``C.weight`` (V, n_embd), ``hidden.weight`` (block*n_embd, n_hidden),
    ``hidden.bias``, ``bn.gamma``/``bn.beta`` (+ buffers ``bn.running_mean``/``running_var``),
    ``out.weight`` (n_hidden, V), ``out.bias``.  Random draws in the lecture's order
    (C, W1, b1, W2, b2), so the lecture's seed gives the lecture's initial weights."""

    def __init__(self, config: MLPConfig, generator: torch.Generator):
        super().__init__()
        if config.hidden_init not in HIDDEN_INITS:
            raise ConfigError(f"unknown hidden_init {config.hidden_init!r}; choose one of {', '.join(HIDDEN_INITS)}.")
        for name in ("vocab_size", "block_size", "n_embd", "n_hidden"):
            if getattr(config, name) < 1:
                raise ConfigError(f"the MLP's {name} must be at least 1, got {getattr(config, name)}.")
        self.config = config
        fan_in = config.block_size * config.n_embd
        w1_scale = {"randn": 1.0, "small": 0.2, "kaiming": TANH_GAIN / fan_in**0.5}[config.hidden_init]
        b1_scale = 1.0 if config.hidden_init == "randn" else 0.01
        out_scale = 0.01 if config.small_output else 1.0
        hidden_bias = (not config.batchnorm) if config.hidden_bias is None else config.hidden_bias

        self.C = Embedding(config.vocab_size, config.n_embd, generator=generator)
        self.hidden = Linear(
            fan_in, config.n_hidden, bias=hidden_bias, generator=generator, scale=w1_scale, bias_scale=b1_scale
        )
        self.out = Linear(
            config.n_hidden,
            config.vocab_size,
            generator=generator,
            scale=out_scale,
            bias_scale=0.0 if config.small_output else 1.0,
        )
        self.bn = BatchNorm1d(config.n_hidden, momentum=config.bn_momentum) if config.batchnorm else None
        self.tanh = Tanh()

    def embedding(self) -> torch.Tensor:
        return self.C.weight.detach()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        emb = self.C(x)  # (B, block, n_embd)
        hpreact = self.hidden(emb.view(emb.shape[0], -1))  # (B, n_hidden)
        if self.bn is not None:
            hpreact = self.bn(hpreact)
        return self.out(self.tanh(hpreact))  # (B, V)
