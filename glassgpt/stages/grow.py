"""Grow a trained model's vocabulary: rows for new (special) tokens in the embedding and head.

The new ids come after the old vocabulary (``tokenizers.add_special_tokens`` numbers them
so), so every existing row keeps its place.  Each new row starts as **the mean of the
existing rows plus small Gaussian noise** (standard deviation ``NOISE`` × the standard
deviation of the existing entries, from a generator seeded with ``seed``):

- as an input, a new token starts as the "average token", a point inside the cloud the
  trained layers already handle, instead of a random direction they never saw;
- as an output (the tied embedding, or an untied head's row), its logit starts as the mean
  of the existing logits, h · mean(W) = mean(h · W), so it is never the model's favourite
  and the predictions on ordinary text barely move (the old tokens' logits are exactly
  unchanged; only the softmax gains a few small terms);
- the noise makes the new rows differ from each other, so they are not interchangeable.

An untied head's bias gets the mean of the existing biases.  Rows that only pad the
vocabulary to ``pad_vocab_to`` (never read: logits are cut to the vocabulary) are zeros.
"""

from __future__ import annotations

import dataclasses

import torch

from glassgpt.config import ModelConfig

#: noise standard deviation, as a fraction of the standard deviation of the existing rows' entries
NOISE = 0.01
GROWN = ("transformer.wte.weight", "lm_head.weight", "lm_head.bias")


def grow_vocabulary(
    cfg: ModelConfig, weights: dict[str, torch.Tensor], new_vocab_size: int, seed: int
) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """The configuration and weights (``GPT.weights()`` form) for ``new_vocab_size`` ids, the
    first ``cfg.vocab_size`` rows unchanged and the new ones initialised as described above."""
    new_cfg = dataclasses.replace(cfg, vocab_size=new_vocab_size)
    added = new_vocab_size - cfg.vocab_size
    if added < 0:
        raise ValueError("a vocabulary can only grow")
    gen = torch.Generator().manual_seed(seed)
    out = dict(weights)
    for name in GROWN:
        if name in weights:
            out[name] = _grow(weights[name], cfg.vocab_size, added, new_cfg.padded_vocab_size, gen)
    return new_cfg, out


def _grow(t: torch.Tensor, old: int, added: int, padded: int, gen: torch.Generator) -> torch.Tensor:
    rows = t[:old]
    mean = rows.mean(0, keepdim=True)
    new = mean.expand(added, *rows.shape[1:]).clone()
    if rows.dim() == 2:  # a matrix: mean + noise; a bias vector: the mean alone
        scale = NOISE * float(rows.std())
        new += scale * torch.randn(new.shape, generator=gen, dtype=torch.float32).to(rows.dtype)
    pad = torch.zeros(padded - old - added, *rows.shape[1:], dtype=rows.dtype)
    return torch.cat([rows, new, pad]).contiguous()
