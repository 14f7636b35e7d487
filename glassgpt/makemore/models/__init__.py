"""The makemore ladder: character models on word lists, from counting bigrams to a WaveNet.

=================  =====================================================================
``bigram``         counts of (previous, next) character pairs, add-k smoothing
``neural-bigram``  one-hot x W, softmax written out, gradient descent, optional L2
``mlp``            Bengio 2003: embeddings of 3 characters -> tanh layer -> softmax,
                   with switches for the initialisation fixes and BatchNorm
``wavenet``        a tree of FlattenConsecutive(2) -> Linear -> BatchNorm -> Tanh levels
=================  =====================================================================

``build_model(name, config, generator)`` makes any of them; ``make_config(name, **fields)``
checks the fields.  All take x (B, block_size) int64 and return ``(logits (B, V), loss)``.
"""

from __future__ import annotations

import dataclasses

import torch

from glassgpt.errors import ConfigError
from glassgpt.makemore.models.bigram import Bigram, BigramConfig
from glassgpt.makemore.models.char_model import CharModel
from glassgpt.makemore.models.generate import generate
from glassgpt.makemore.models.layers import BatchNorm1d, Embedding, FlattenConsecutive, Linear, Sequential, Tanh
from glassgpt.makemore.models.mlp import MLP, MLPConfig
from glassgpt.makemore.models.neural_bigram import NeuralBigram, NeuralBigramConfig
from glassgpt.makemore.models.wavenet import WaveNet, WaveNetConfig

#: name -> (config class, model class)
MODELS: dict[str, tuple[type, type[CharModel]]] = {
    "bigram": (BigramConfig, Bigram),
    "neural-bigram": (NeuralBigramConfig, NeuralBigram),
    "mlp": (MLPConfig, MLP),
    "wavenet": (WaveNetConfig, WaveNet),
}


def _classes(name: str) -> tuple[type, type[CharModel]]:
    if name not in MODELS:
        raise ConfigError(f"unknown makemore model {name!r}; choose one of {', '.join(MODELS)}.")
    return MODELS[name]


def make_config(name: str, **fields):
    """The config dataclass of model ``name`` with ``fields`` set; ConfigError for an unknown field."""
    config_cls, _ = _classes(name)
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ConfigError(
            f"the {name} model has no setting {unknown[0]!r}; its settings are {', '.join(sorted(known))}."
        )
    return config_cls(**fields)


def build_model(name: str, config=None, generator: torch.Generator | None = None, seed: int = 0) -> CharModel:
    """Model ``name`` from ``config`` (default settings when None), initialised from ``generator``
    (or a fresh one seeded with ``seed``); the global random state is never touched."""
    config_cls, model_cls = _classes(name)
    if config is None:
        config = config_cls()
    if not isinstance(config, config_cls):
        raise ConfigError(f"the {name} model needs a {config_cls.__name__}, not a {type(config).__name__}.")
    if generator is None:
        generator = torch.Generator().manual_seed(seed)
    return model_cls(config, generator)


__all__ = [
    "MODELS",
    "make_config",
    "build_model",
    "generate",
    "CharModel",
    "Bigram",
    "BigramConfig",
    "NeuralBigram",
    "NeuralBigramConfig",
    "MLP",
    "MLPConfig",
    "WaveNet",
    "WaveNetConfig",
    "Embedding",
    "FlattenConsecutive",
    "Linear",
    "BatchNorm1d",
    "Tanh",
    "Sequential",
]
