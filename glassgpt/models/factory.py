"""One place that turns a run's ``[model]`` section into a torch model: the GPT, or a rung of
the makemore ladder (``model.arch``).

The GPT reads its own fields of ``ModelConfig``; a ladder model reads the fields
``ladder_config.LADDER_FIELDS`` lists for it, which carry the same names as the fields of its
own config dataclass (``glassgpt.makemore.models``).  Every model draws its initial weights
from torch's global generator here, as ``GPT(m)`` always has: callers that must not touch the
process's random state wrap the call (the engines in their own ``TorchRNG``, loading in
``fork_rng``).
"""

from __future__ import annotations

import torch

from glassgpt.config import ModelConfig
from glassgpt.errors import count
from glassgpt.makemore import models as makemore
from glassgpt.makemore.presets import LADDER_FIELDS
from glassgpt.models.ensemble import Ensemble
from glassgpt.models.gpt import GPT


def is_ladder(m: ModelConfig) -> bool:
    """Whether the model is a rung of the makemore ladder (reads a window, predicts one character)."""
    return m.arch != "gpt"


def ladder_config(m: ModelConfig):
    """The ladder model's own config dataclass, its fields taken from ``m`` by name."""
    return makemore.make_config(m.arch, **{name: getattr(m, name) for name in LADDER_FIELDS[m.arch]})


def build(m: ModelConfig) -> torch.nn.Module:
    """The model ``m`` describes, initialised from torch's global generator."""
    if not is_ladder(m):
        return Ensemble(m) if m.ensemble > 1 else GPT(m)
    return makemore.build_model(m.arch, ladder_config(m), generator=torch.default_generator)


def describe(m: ModelConfig) -> str:
    """One line on the model's shape, e.g. ``mlp: context 3, embedding 10, 200 tanh units, BatchNorm``."""
    if not is_ladder(m):
        shape = f"{count(m.n_layer, 'layer')}, {count(m.n_head, 'head')}, width {m.n_embd}, context {m.block_size}"
        return f"an ensemble of {m.ensemble} GPTs of {shape}" if m.ensemble > 1 else shape
    if m.arch == "bigram":
        return f"bigram: counts of character pairs, add-{m.smoothing:g} smoothing"
    if m.arch == "neural-bigram":
        return f"neural bigram: one-hot × W, L2 {m.l2:g}"
    parts = [f"context {m.block_size}", f"embedding {m.n_embd}", f"{m.n_hidden} tanh units"]
    if m.arch == "wavenet":
        parts[2] += f" per level, pairs of {m.group}"
    if m.arch == "mlp" and (m.small_output or m.hidden_init != "randn"):
        parts.append(
            "init fixes ("
            + ", ".join(
                p
                for p in ("small output" if m.small_output else "", "" if m.hidden_init == "randn" else m.hidden_init)
                if p
            )
            + ")"
        )
    if m.batchnorm:
        parts.append("BatchNorm")
    return f"{m.arch}: " + ", ".join(parts)
