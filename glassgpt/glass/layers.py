"""The glass engine's building blocks: every layer is a forward/backward PAIR, side by side.

``*_forward(inputs, params) -> (out, cache)`` computes the layer and keeps in ``cache``
exactly what the backward pass will need; ``*_backward(dout, cache)`` takes the gradient
of the loss with respect to ``out`` and returns the gradients with respect to the inputs
and parameters.  Nothing is hidden: no autograd, no framework, only NumPy.

Conventions: ``B`` batch, ``T`` time, ``C`` channels (the model width), ``V`` vocabulary.
Weights follow ``torch.nn.Linear``: ``w`` has shape ``(out, in)`` and ``y = x @ w.T + b``.
Every array keeps the dtype it came in with (float32 for training, float64 for checks).

Every matrix product is written as ``np.matmul`` on purpose: it is the one operation that
dominates the cost, and ``benchmarks/glass_vs_torch.py`` times it by swapping that name.
"""

from __future__ import annotations

import math

import numpy as np

# ---------------------------------------------------------------------------------------
# Embeddings: a lookup forward, a scatter-add backward
# ---------------------------------------------------------------------------------------


def embedding_forward(ids: np.ndarray, table: np.ndarray):
    """Token embedding.  ids (B, T) int, table (V, C) -> out (B, T, C) with out[b, t] = table[ids[b, t]]."""
    return table[ids], (ids, table.shape)


def embedding_backward(dout: np.ndarray, cache) -> np.ndarray:
    """dout (B, T, C) -> dtable (V, C).

    A row of the table receives the SUM of the gradients of every position that looked it
    up (a scatter-add); rows nobody used get zero.  The one-line form is
        np.add.at(dtable, ids.ravel(), dout.reshape(-1, C))
    (``dtable[ids] += dout`` would be wrong: a repeated id would keep only one of its
    gradients).  Here the same sums are done 5x faster: sort the positions by id, then add
    up each run of equal ids with ``np.add.reduceat``."""
    ids, shape = cache
    flat = ids.reshape(-1)
    order = np.argsort(flat, kind="stable")
    sorted_ids = flat[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # first position of each id's run
    dtable = np.zeros(shape, dtype=dout.dtype)
    dtable[sorted_ids[starts]] = np.add.reduceat(dout.reshape(-1, shape[1])[order], starts, axis=0)
    return dtable


def position_embedding_forward(T: int, table: np.ndarray):
    """Learned positions.  table (block_size, C) -> out (T, C) = table[:T], broadcast over the batch."""
    return table[:T], (T, table.shape)


def position_embedding_backward(dout: np.ndarray, cache) -> np.ndarray:
    """dout (B, T, C) -> dtable (block_size, C): every sequence of the batch used row t, so
    its gradient is summed over the batch; rows past T get zero."""
    T, shape = cache
    dtable = np.zeros(shape, dtype=dout.dtype)
    dtable[:T] = dout.sum(axis=0)
    return dtable


# ---------------------------------------------------------------------------------------
# Linear
# ---------------------------------------------------------------------------------------


def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None):
    """x (..., in), w (out, in), b (out,) or None -> y (..., out) = x @ w.T + b.

    The leading axes are flattened so the product is ONE matrix multiplication."""
    x2 = x.reshape(-1, x.shape[-1])
    y = np.matmul(x2, w.T)
    if b is not None:
        y += b
    return y.reshape(*x.shape[:-1], w.shape[0]), (x2, w, x.shape, b is not None)


def linear_backward(dy: np.ndarray, cache):
    """dy (..., out) -> (dx (..., in), dw (out, in), db (out,) or None).

    dx = dy @ w; dw = dy^T @ x summed over every position; db = dy summed over every position."""
    x2, w, x_shape, has_bias = cache
    dy2 = dy.reshape(-1, w.shape[0])
    dx = np.matmul(dy2, w).reshape(x_shape)
    dw = np.matmul(dy2.T, x2)
    db = dy2.sum(axis=0) if has_bias else None
    return dx, dw, db


# ---------------------------------------------------------------------------------------
# LayerNorm (over the last axis)
# ---------------------------------------------------------------------------------------


def layernorm_forward(x: np.ndarray, g: np.ndarray, b: np.ndarray | None = None, eps: float = 1e-5):
    """x (..., C), gain g (C,), bias b (C,) or None -> y (..., C).

    xhat = (x - mean) / sqrt(var + eps) with the biased variance of each row; y = xhat * g + b."""
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc
    xhat *= rstd                      # reuse the centred buffer
    y = xhat * g
    if b is not None:
        y += b
    return y, (xhat, rstd, g, b is not None)


def layernorm_backward(dy: np.ndarray, cache):
    """dy (..., C) -> (dx (..., C), dg (C,), db (C,) or None).

    The whole input gradient in one formula (mean over the row of C entries):
        dxhat = dy * g
        dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    The two means are the gradient flowing back through the row mean and row variance."""
    xhat, rstd, g, has_bias = cache
    C = xhat.shape[-1]
    dy2 = dy.reshape(-1, C)
    dg = np.sum(dy2 * xhat.reshape(-1, C), axis=0)
    db = dy2.sum(axis=0) if has_bias else None
    dxhat = dy * g
    mean_dxhat = dxhat.mean(axis=-1, keepdims=True)
    mean_dxhat_xhat = np.mean(dxhat * xhat, axis=-1, keepdims=True)
    dx = dxhat
    dx -= mean_dxhat
    dx -= xhat * mean_dxhat_xhat
    dx *= rstd
    return dx, dg, db


# ---------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------

_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


def gelu_forward(x: np.ndarray):
    """GELU, tanh approximation (GPT-2): y = 0.5 x (1 + tanh(u)), u = k (x + a x^3), k = sqrt(2/pi), a = 0.044715.
    Any shape in, same shape out.

    Computed through the identity 0.5 (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)): the same
    function with one exp instead of a tanh (twice as fast in NumPy)."""
    s = x * x
    s *= -2.0 * _GELU_K * _GELU_A
    s -= 2.0 * _GELU_K
    s *= x                            # -2u
    with np.errstate(over="ignore"):  # exp(-2u) = inf for very negative x gives s = 0, as it should
        np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)           # s = sigmoid(2u) = 0.5 (1 + tanh(u))
    return x * s, (x, s)


def gelu_backward(dy: np.ndarray, cache) -> np.ndarray:
    """dy/dx = s + x * 2 s (1 - s) * du/dx, with s = sigmoid(2u) and du/dx = k (1 + 3 a x^2)
    (the same as 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx, since 0.5 (1 - tanh^2 u) = 2 s (1 - s))."""
    x, s = cache
    g = x * x
    g *= 6.0 * _GELU_K * _GELU_A
    g += 2.0 * _GELU_K                # 2 du/dx
    g *= x
    g *= 1.0 - s
    g *= s
    g += s                            # dy/dx
    g *= dy
    return g


def relu_forward(x: np.ndarray):
    """ReLU: y = max(x, 0).  Any shape."""
    y = np.maximum(x, 0)
    return y, y


def relu_backward(dy: np.ndarray, cache) -> np.ndarray:
    """The gradient passes where the output was positive and stops elsewhere (also at exactly 0)."""
    y = cache
    return dy * (y > 0)


def tanh_forward(x: np.ndarray):
    """y = tanh(x).  Any shape."""
    y = np.tanh(x)
    return y, y


def tanh_backward(dy: np.ndarray, cache) -> np.ndarray:
    """dy/dx = 1 - tanh(x)^2, read from the saved output."""
    y = cache
    return dy * (1.0 - y * y)


def relu2_forward(x: np.ndarray):
    """ReLU squared: y = max(x, 0)².  Any shape."""
    r = np.maximum(x, 0)
    return r * r, r


def relu2_backward(dy: np.ndarray, cache) -> np.ndarray:
    """dy/dx = 2 max(x, 0): zero where x ≤ 0, growing with x above."""
    r = cache
    return dy * (2 * r)


ACTIVATIONS = {"gelu": (gelu_forward, gelu_backward), "relu": (relu_forward, relu_backward),
               "tanh": (tanh_forward, tanh_backward), "relu2": (relu2_forward, relu2_backward)}


# ---------------------------------------------------------------------------------------
# Residual connection and dropout
# ---------------------------------------------------------------------------------------


def residual_forward(x: np.ndarray, fx: np.ndarray):
    """y = x + f(x): the block adds its output to the stream instead of replacing it."""
    return x + fx, None


def residual_backward(dy: np.ndarray, cache=None):
    """An addition copies its gradient to both inputs: (dx, dfx) = (dy, dy).  This is the
    'gradient highway': dy reaches x unchanged, whatever f did."""
    return dy, dy


def dropout_forward(x: np.ndarray, p: float, rng: np.random.Generator | None, training: bool = True):
    """Inverted dropout: each entry is zeroed with probability p and the survivors are scaled
    by 1/(1-p), so the expected value is unchanged and inference needs no rescaling.
    The mask comes from the seeded ``rng``; off (identity) in evaluation or when p == 0."""
    if not training or p == 0.0:
        return x, None
    keep = rng.random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask, mask


def dropout_backward(dy: np.ndarray, cache) -> np.ndarray:
    """The same mask (with the same scale) applies to the gradient."""
    mask = cache
    return dy if mask is None else dy * mask


# ---------------------------------------------------------------------------------------
# Tied weights
# ---------------------------------------------------------------------------------------


def tied_weight_backward(d_embedding: np.ndarray, d_head: np.ndarray) -> np.ndarray:
    """The token embedding matrix is used twice (lookup at the input, output projection at the
    head), so its gradient is the sum of the gradients of both uses."""
    return d_embedding + d_head
