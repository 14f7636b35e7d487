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

Each cache is a small named record (``cache.xhat``, not ``cache[0]``); being a NamedTuple,
it still unpacks like the tuple it replaced.

The readable version beside the fast one: where a layer trades the textbook formula for
speed (the embedding's sorted sums, GELU through a sigmoid, LayerNorm's one-formula
backward), the textbook form sits right after it as ``*_reference``, computing the same
numbers the plain way.  ``tests/glass/test_textbook.py`` checks that both agree.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# ---------------------------------------------------------------------------------------
# Embeddings: a lookup forward, a scatter-add backward
# ---------------------------------------------------------------------------------------


class EmbeddingCache(NamedTuple):
    ids: np.ndarray  # (B, T) the ids that were looked up
    table_shape: tuple[int, int]  # (V, C)


def embedding_forward(ids: np.ndarray, table: np.ndarray):
    """Token embedding.  ids (B, T) int, table (V, C) -> out (B, T, C) with out[b, t] = table[ids[b, t]]."""
    return table[ids], EmbeddingCache(ids, table.shape)


def embedding_backward(dout: np.ndarray, cache: EmbeddingCache) -> np.ndarray:
    """dout (B, T, C) -> dtable (V, C).

    A row of the table receives the SUM of the gradients of every position that looked it
    up (a scatter-add); rows nobody used get zero.  The one-line form is
        np.add.at(dtable, ids.ravel(), dout.reshape(-1, C))
    (``dtable[ids] += dout`` would be wrong: a repeated id would keep only one of its
    gradients); that form is ``embedding_backward_reference`` below.  Here the same sums are
    done 5x faster: sort the positions by id, then add up each run of equal ids with
    ``np.add.reduceat``."""
    V, C = cache.table_shape
    flat = cache.ids.reshape(-1)
    order = np.argsort(flat, kind="stable")
    sorted_ids = flat[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # first position of each id's run
    dtable = np.zeros((V, C), dtype=dout.dtype)
    dtable[sorted_ids[starts]] = np.add.reduceat(dout.reshape(-1, C)[order], starts, axis=0)
    return dtable


def embedding_backward_reference(dout: np.ndarray, cache: EmbeddingCache) -> np.ndarray:
    """The textbook scatter-add of ``embedding_backward``: position i adds its gradient row
    to the table row of its id.  ``np.add.at`` adds once per index, repeats included."""
    V, C = cache.table_shape
    dtable = np.zeros((V, C), dtype=dout.dtype)
    np.add.at(dtable, cache.ids.reshape(-1), dout.reshape(-1, C))
    return dtable


class PositionCache(NamedTuple):
    T: int  # how many positions were used
    table_shape: tuple[int, int]  # (block_size, C)


def position_embedding_forward(T: int, table: np.ndarray):
    """Learned positions.  table (block_size, C) -> out (T, C) = table[:T], broadcast over the batch."""
    return table[:T], PositionCache(T, table.shape)


def position_embedding_backward(dout: np.ndarray, cache: PositionCache) -> np.ndarray:
    """dout (B, T, C) -> dtable (block_size, C): every sequence of the batch used row t, so
    its gradient is summed over the batch; rows past T get zero."""
    dtable = np.zeros(cache.table_shape, dtype=dout.dtype)
    dtable[: cache.T] = dout.sum(axis=0)
    return dtable


# ---------------------------------------------------------------------------------------
# Linear
# ---------------------------------------------------------------------------------------


class LinearCache(NamedTuple):
    x2: np.ndarray  # the input flattened to (positions, in)
    w: np.ndarray  # (out, in)
    x_shape: tuple[int, ...]  # the input's shape, to give dx back in it
    has_bias: bool


def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None):
    """x (..., in), w (out, in), b (out,) or None -> y (..., out) = x @ w.T + b.

    The leading axes are flattened so the product is ONE matrix multiplication."""
    x2 = x.reshape(-1, x.shape[-1])
    y = np.matmul(x2, w.T)
    if b is not None:
        y += b
    return y.reshape(*x.shape[:-1], w.shape[0]), LinearCache(x2, w, x.shape, b is not None)


def linear_backward(dy: np.ndarray, cache: LinearCache):
    """dy (..., out) -> (dx (..., in), dw (out, in), db (out,) or None).

    dx = dy @ w; dw = dy^T @ x summed over every position; db = dy summed over every position."""
    w = cache.w
    dy2 = dy.reshape(-1, w.shape[0])
    dx = np.matmul(dy2, w).reshape(cache.x_shape)
    dw = np.matmul(dy2.T, cache.x2)
    db = dy2.sum(axis=0) if cache.has_bias else None
    return dx, dw, db


# ---------------------------------------------------------------------------------------
# LayerNorm (over the last axis)
# ---------------------------------------------------------------------------------------


class LayerNormCache(NamedTuple):
    xhat: np.ndarray  # (..., C) the normalised input
    rstd: np.ndarray  # (..., 1) 1 / sqrt(var + eps) of each row
    g: np.ndarray  # (C,) the gain
    has_bias: bool


def layernorm_forward(x: np.ndarray, g: np.ndarray, b: np.ndarray | None = None, eps: float = 1e-5):
    """x (..., C), gain g (C,), bias b (C,) or None -> y (..., C).

    xhat = (x - mean) / sqrt(var + eps) with the biased variance of each row; y = xhat * g + b."""
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc
    xhat *= rstd  # reuse the centred buffer
    y = xhat * g
    if b is not None:
        y += b
    return y, LayerNormCache(xhat, rstd, g, b is not None)


def layernorm_backward(dy: np.ndarray, cache: LayerNormCache):
    """dy (..., C) -> (dx (..., C), dg (C,), db (C,) or None).

    The whole input gradient in one formula (mean over the row of C entries):
        dxhat = dy * g
        dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    The two means are the gradient flowing back through the row mean and row variance
    (``layernorm_reference`` below derives it one step at a time)."""
    xhat, rstd = cache.xhat, cache.rstd
    C = xhat.shape[-1]
    dy2 = dy.reshape(-1, C)
    dg = np.sum(dy2 * xhat.reshape(-1, C), axis=0)
    db = dy2.sum(axis=0) if cache.has_bias else None
    dxhat = dy * cache.g
    mean_dxhat = dxhat.mean(axis=-1, keepdims=True)
    mean_dxhat_xhat = np.mean(dxhat * xhat, axis=-1, keepdims=True)
    dx = dxhat
    dx -= mean_dxhat
    dx -= xhat * mean_dxhat_xhat
    dx *= rstd
    return dx, dg, db


def normalize_reference(x: np.ndarray, axes: tuple[int, ...], eps: float, dxhat: np.ndarray):
    """xhat = (x - mean) / sqrt(var + eps) over ``axes``, and dx from dxhat, one node of the
    computation graph per line, backpropagated by hand in reverse order: the textbook
    derivation behind LayerNorm's and BatchNorm's one-formula backward.  Returns (xhat, dx)."""
    n = math.prod(x.shape[a] for a in axes)
    mean = x.sum(axis=axes, keepdims=True) / n
    xc = x - mean
    var = (xc * xc).sum(axis=axes, keepdims=True) / n
    std = np.sqrt(var + eps)
    xhat = xc / std
    dxc = dxhat / std  # xhat = xc / std, through xc
    dstd = -(dxhat * xc / (std * std)).sum(axis=axes, keepdims=True)  # ... and through std
    dvar = dstd / (2.0 * std)  # std = sqrt(var + eps)
    dxc = dxc + dvar * 2.0 * xc / n  # var = sum(xc^2) / n
    dmean = -dxc.sum(axis=axes, keepdims=True)  # xc = x - mean, through mean
    dx = dxc + dmean / n  # ... through x, and mean = sum(x) / n
    return xhat, dx


def layernorm_reference(x: np.ndarray, g: np.ndarray, b: np.ndarray | None, dy: np.ndarray, eps: float = 1e-5):
    """The textbook LayerNorm, forward and backward in one: (y, dx, dg, db) as
    ``layernorm_forward`` then ``layernorm_backward`` give them."""
    rows = tuple(range(x.ndim - 1))
    xhat, dx = normalize_reference(x, (x.ndim - 1,), eps, dy * g)
    y = xhat * g if b is None else xhat * g + b
    return y, dx, (dy * xhat).sum(axis=rows), (None if b is None else dy.sum(axis=rows))


# ---------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------

_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


class GeluCache(NamedTuple):
    x: np.ndarray  # the input
    s: np.ndarray  # sigmoid(2u) = 0.5 (1 + tanh(u))


def gelu_forward(x: np.ndarray):
    """GELU, tanh approximation (GPT-2): y = 0.5 x (1 + tanh(u)), u = k (x + a x^3), k = sqrt(2/pi), a = 0.044715.
    Any shape in, same shape out.

    Computed through the identity 0.5 (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)): the same
    function with one exp instead of a tanh (twice as fast in NumPy).  The formula as written
    above is ``gelu_forward_reference``."""
    s = x * x
    s *= -2.0 * _GELU_K * _GELU_A
    s -= 2.0 * _GELU_K
    s *= x  # -2u
    with np.errstate(over="ignore"):  # exp(-2u) = inf for very negative x gives s = 0, as it should
        np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)  # s = sigmoid(2u) = 0.5 (1 + tanh(u))
    return x * s, GeluCache(x, s)


def gelu_backward(dy: np.ndarray, cache: GeluCache) -> np.ndarray:
    """dy/dx = s + x * 2 s (1 - s) * du/dx, with s = sigmoid(2u) and du/dx = k (1 + 3 a x^2)
    (the same as 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx, since 0.5 (1 - tanh^2 u) = 2 s (1 - s))."""
    x, s = cache.x, cache.s
    g = x * x
    g *= 6.0 * _GELU_K * _GELU_A
    g += 2.0 * _GELU_K  # 2 du/dx
    g *= x
    g *= 1.0 - s
    g *= s
    g += s  # dy/dx
    g *= dy
    return g


def gelu_forward_reference(x: np.ndarray):
    """The textbook GELU: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).  Cache: x."""
    u = _GELU_K * (x + _GELU_A * x**3)
    return 0.5 * x * (1.0 + np.tanh(u)), x


def gelu_backward_reference(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Its derivative by the product and chain rules, with u as above:
    dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)."""
    u = _GELU_K * (x + _GELU_A * x**3)
    th = np.tanh(u)
    du_dx = _GELU_K * (1.0 + 3.0 * _GELU_A * x * x)
    return dy * (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * du_dx)


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


ACTIVATIONS = {
    "gelu": (gelu_forward, gelu_backward),
    "relu": (relu_forward, relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu2": (relu2_forward, relu2_backward),
}


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
