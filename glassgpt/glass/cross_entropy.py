"""Softmax and cross-entropy fused into one forward/backward pair.

For one row of logits z and its target y:  loss = logsumexp(z) - z[y] = -log softmax(z)[y].
Its gradient is the famous  dloss/dz = softmax(z) - onehot(y)  (docs/curriculum.md, A2 and A3).  Fusing the
two layers matters: computed separately, the softmax backward would need a (V, V) Jacobian
per row; fused, it is one subtraction.

The loss is the MEAN over the rows whose target is not ``ignore_index`` (-1, like the torch
model), so the gradient of every counted row is divided by their number N; ignored rows
get exactly zero gradient.

``softmax_cross_entropy_reference`` is the readable version beside the fused one: softmax,
then -log, and the backward through both one row at a time, with the softmax's Jacobian.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class CrossEntropyCache(NamedTuple):
    probs: np.ndarray  # (N, V) softmax of the logits
    safe_targets: np.ndarray  # (N,) the targets, ignored rows replaced by 0
    valid: np.ndarray  # (N,) bool: rows that count
    n: int  # how many rows count


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
    nll = np.log(s[:, 0]) - z[rows, safe]  # -log p[target] per row
    n = int(valid.sum())
    loss = np.sum(nll, where=valid, dtype=np.float64) / n if n else np.float64(np.nan)
    probs = e
    probs /= s  # softmax, kept for the backward pass
    return np.asarray(loss, dtype=logits.dtype), CrossEntropyCache(probs, safe, valid, n)


def softmax_cross_entropy_backward(dloss, cache: CrossEntropyCache) -> np.ndarray:
    """dloss (scalar) -> dlogits (N, V) = dloss * (softmax - onehot(target)) / N, zero on ignored rows."""
    safe, valid = cache.safe_targets, cache.valid
    scale = float(dloss) / max(cache.n, 1)
    dlogits = cache.probs * scale
    dlogits[np.arange(len(safe)), safe] -= scale
    if not valid.all():
        dlogits[~valid] = 0.0
    return dlogits


def softmax_cross_entropy_reference(logits: np.ndarray, targets: np.ndarray, ignore_index: int = -1):
    """Unfused, the textbook way: (mean loss, dlogits of that loss), as the fused pair gives them
    with dloss = 1.  Each counted row: p = softmax(z), loss_i = -log p[y]; backward first
    through the log (only p[y] gets a gradient, -1 / p[y]) and then through the softmax,
    whose Jacobian dp_i/dz_j = p_i (delta_ij - p_j) is built in full.  Fusing buys more than
    speed: this form divides by p[y], which underflows to 0 (and the gradient to nan) when a
    row is confidently wrong; ``softmax - onehot`` never divides."""
    rows = [i for i in range(len(targets)) if targets[i] != ignore_index]
    n = len(rows)
    loss = 0.0
    dlogits = np.zeros_like(logits)
    for i in rows:
        z, y = logits[i], targets[i]
        p = np.exp(z - z.max())
        p /= p.sum()  # softmax (the max shift changes nothing but overflow)
        loss += -np.log(p[y]) / n
        dp = np.zeros_like(p)
        dp[y] = -1.0 / (n * p[y])  # d(-log p[y] / n) / dp
        jacobian = np.diag(p) - np.outer(p, p)  # symmetric, so J^T dp = J dp
        dlogits[i] = jacobian @ dp
    return (loss if n else float("nan")), dlogits


def cross_entropy_sum(logits: np.ndarray, targets: np.ndarray) -> float:
    """Sum over rows of -log softmax(logits)[target] in nats (evaluation; no cache)."""
    z, _, s = _log_softmax_parts(logits)
    nll = np.log(s[:, 0]) - z[np.arange(len(targets)), targets]
    return float(np.sum(nll, dtype=np.float64))
