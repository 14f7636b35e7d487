"""The sampling settings: their defaults, their checks, and what they do to the logits.

``SamplingSettings`` holds temperature, top-k, top-p, the number of new tokens and of samples;
``DEFAULTS`` is the one place the defaults are written (the CLI, ``glassgpt.generate``, chat
and the playground read them).  ``filter_logits`` applies temperature, top-k and top-p to a
batch of logits; every sampler (plain, steered, speculative) draws from what it leaves.
``check_sampling`` and ``check_request`` refuse, in one sentence and before any work, settings
that cannot work and a request that cannot fit in memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from glassgpt.config import check_seed
from glassgpt.device import device_of
from glassgpt.errors import GlassError
from glassgpt.models.footprint import inference_bytes, require_fits


@dataclass(frozen=True)
class SamplingSettings:
    """How text is sampled.  The defaults are what ``glassgpt sample`` and ``glassgpt.generate``
    use: temperature 0.8 (a little sharper than the model's distribution: fewer odd tokens,
    still varied), 300 new tokens, no top-k / top-p cut, one sample."""

    max_new_tokens: int = 300
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    num_samples: int = 1

    def check(self) -> None:
        """One clear sentence for a setting that cannot work."""
        check_sampling(self.max_new_tokens, self.temperature, self.top_k, self.top_p, self.num_samples)


#: the sampling defaults, the one place they are written
DEFAULTS = SamplingSettings()


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Scale by temperature, keep the ``top_k`` largest and the smallest set whose
    probability reaches ``top_p``; everything else becomes -inf.  logits: (N, V)."""
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass of strictly more likely tokens
        sorted_logits = sorted_logits.masked_fill(before >= top_p, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def check_request(
    model,
    rows: int,
    prompt_len: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | Sequence[int] | None = None,
) -> None:
    """Refuse, before any work, settings that cannot work and a request that cannot fit in
    memory: ``rows`` sequences of ``prompt_len`` + ``max_new_tokens`` tokens on ``model``."""
    check_sampling(max_new_tokens, temperature, top_k, top_p, max(1, rows), seed)
    device = device_of(model)
    require_fits(
        inference_bytes(model.config, rows, prompt_len, max_new_tokens),
        device,
        f"sampling {rows:,} × {max_new_tokens:,} tokens",
        "ask for fewer samples or tokens",
    )


def check_sampling(
    max_new_tokens: int = 0,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    num_samples: int = 1,
    seed: int | Sequence[int] | None = None,
) -> None:
    """Refuse impossible sampling settings, one sentence naming the value."""
    if max_new_tokens < 0:
        raise GlassError(f"max_new_tokens must be 0 or more, got {max_new_tokens}.")
    if num_samples < 1:
        raise GlassError(f"num_samples must be at least 1, got {num_samples}.")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise GlassError(f"temperature must be a finite number, 0 or more (0 is greedy), got {temperature}.")
    if top_k is not None and top_k < 1:
        raise GlassError(f"top_k must be at least 1, got {top_k}.")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise GlassError(f"top_p must be in (0, 1], got {top_p}.")
    for one in [seed] if seed is None or isinstance(seed, int) else seed:
        check_seed(one, "the sampling seed")
