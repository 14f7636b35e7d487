"""Softmax and cross-entropy fused into one forward/backward pair.

For one row of logits z and its target y:  loss = logsumexp(z) - z[y] = -log softmax(z)[y].
Its gradient is the famous  dloss/dz = softmax(z) - onehot(y)  (docs/curriculum.md, A2 and A3).  Fusing the
two layers matters: computed separately, the softmax backward would need a (V, V) Jacobian
per row; fused, it is one subtraction.

The loss is the MEAN over the rows whose target is not ``ignore_index`` (-1, like the torch
model), so the gradient of every counted row is divided by their number N; ignored rows
get exactly zero gradient.
"""

from __future__ import annotations

import numpy as np


def _log_softmax_parts(logits: np.ndarray):
    """Row max shifted logits z - max and the row sums of exp(z - max)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return z, e, e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy_forward(logits: np.ndarray, targets: np.ndarray, ignore_index: int = -1):
    """logits (N, V), targets (N,) int -> (mean loss as a 0-d array, cache).

    Stable: subtract the row max before exp, so exp never overflows."""
    z, e, s = _log_softmax_parts(logits)
    valid = targets != ignore_index
    rows = np.arange(len(targets))
    safe = np.where(valid, targets, 0)
    nll = np.log(s[:, 0]) - z[rows, safe]       # -log p[target] per row
    n = int(valid.sum())
    loss = np.sum(nll, where=valid, dtype=np.float64) / n if n else np.float64(np.nan)
    probs = e
    probs /= s                                  # softmax, kept for the backward pass
    return np.asarray(loss, dtype=logits.dtype), (probs, safe, valid, n)


def softmax_cross_entropy_backward(dloss, cache) -> np.ndarray:
    """dloss (scalar) -> dlogits (N, V) = dloss * (softmax - onehot(target)) / N, zero on ignored rows."""
    probs, safe, valid, n = cache
    scale = float(dloss) / max(n, 1)
    dlogits = probs * scale
    dlogits[np.arange(len(safe)), safe] -= scale
    if not valid.all():
        dlogits[~valid] = 0.0
    return dlogits


def cross_entropy_sum(logits: np.ndarray, targets: np.ndarray) -> float:
    """Sum over rows of -log softmax(logits)[target] in nats (evaluation; no cache)."""
    z, _, s = _log_softmax_parts(logits)
    nll = np.log(s[:, 0]) - z[np.arange(len(targets)), targets]
    return float(np.sum(nll, dtype=np.float64))
