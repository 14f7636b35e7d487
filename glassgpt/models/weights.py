"""The one check that a set of weights fits a model: the same names, each with the same shape.

Both the PyTorch GPT and the NumPy glass GPT load weights through it, so a checkpoint that
does not fit gets the same sentence from either engine.
"""

from __future__ import annotations

from collections.abc import Mapping

from glassgpt.errors import GlassError


def check_weights(expected: Mapping[str, tuple[int, ...]], weights: Mapping) -> None:
    """Raise one GlassError sentence unless ``weights`` (name -> tensor or array) has exactly
    the names of ``expected`` (name -> shape), each with its shape."""
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise GlassError(
            f"the weights do not fit this model (missing {missing[:3]}, unexpected {extra[:3]}); "
            "the checkpoint was made for a different configuration."
        )
    for name, shape in expected.items():
        got = tuple(weights[name].shape)
        if got != tuple(shape):
            raise GlassError(f"weight {name} has shape {got} but the model expects {tuple(shape)}.")
