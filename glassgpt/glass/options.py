"""Forward/backward pairs for the glass GPT's options beyond GPT-2: RMSNorm and a soft-capped head.

Same conventions as ``layers``: ``*_forward`` returns ``(out, cache)``, ``*_backward`` takes
the gradient of the loss with respect to ``out`` and returns the gradients of the inputs.

- ``rmsnorm_*``: y = x / rms(x) · g with rms(x) = sqrt(mean(x²) + eps), over the last axis.
  No centring and no bias (compare ``layernorm_*``).
- ``capped_head_*``: the LM head y = x wᵀ + b followed by cap·tanh(y / cap) when ``cap`` > 0.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from glassgpt.glass.layers import linear_backward, linear_forward

#: as the torch model's ``NORM_EPS``
NORM_EPS = 1e-5


class RMSNormCache(NamedTuple):
    xhat: np.ndarray  # x / rms(x), the normalised input
    rstd: np.ndarray  # 1 / rms(x), one per row
    g: np.ndarray  # the gain


def rmsnorm_forward(x: np.ndarray, g: np.ndarray, eps: float = NORM_EPS):
    """x (..., C), gain g (C,) -> y (..., C) = x / sqrt(mean(x²) + eps) · g."""
    rstd = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    xhat = x * rstd
    return xhat * g, RMSNormCache(xhat, rstd, g)


def rmsnorm_backward(dy: np.ndarray, cache: RMSNormCache):
    """dy (..., C) -> (dx (..., C), dg (C,), None).

    With dxhat = dy · g, the input gradient is
        dx = rstd · (dxhat - xhat · mean(dxhat · xhat))
    (LayerNorm's formula without the term of the mean, which RMSNorm does not subtract).
    The ``None`` stands for the bias RMSNorm does not have, so the triple matches LayerNorm's."""
    xhat, rstd, g = cache
    C = xhat.shape[-1]
    dg = np.sum(dy.reshape(-1, C) * xhat.reshape(-1, C), axis=0)
    dxhat = dy * g
    dx = dxhat - xhat * np.mean(dxhat * xhat, axis=-1, keepdims=True)
    dx *= rstd
    return dx, dg, None


class CappedHeadCache(NamedTuple):
    linear: Any  # the head's linear cache
    tanh: np.ndarray | None  # tanh(y / cap), or None when the cap is off


def capped_head_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, cap: float):
    """x (..., C) -> logits (..., V): x wᵀ + b, then cap · tanh(· / cap) when cap > 0."""
    y, c_linear = linear_forward(x, w, b)
    if cap <= 0:
        return y, CappedHeadCache(c_linear, None)
    t = np.tanh(y / cap)
    return cap * t, CappedHeadCache(c_linear, t)


def capped_head_backward(dlogits: np.ndarray, cache: CappedHeadCache):
    """dlogits -> (dx, dw, db): d(cap·tanh(y/cap))/dy = 1 - tanh², then the linear backward."""
    dy = dlogits if cache.tanh is None else dlogits * (1.0 - cache.tanh * cache.tanh)
    return linear_backward(dy, cache.linear)
