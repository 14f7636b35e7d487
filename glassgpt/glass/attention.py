"""Causal multi-head self-attention, forward and backward, all heads at once.

Two levels, each a forward/backward pair:

- ``causal_attention_*``: the core, for q, k, v of shape (B, H, T, D).  Every (batch, head)
  pair is one slice of a batched ``np.matmul``: no Python loop over batch, time or heads.
- ``self_attention_*``: the whole sub-layer of a GPT block: fused q/k/v projection
  (``c_attn``), split into heads, the core, merge the heads, output projection (``c_proj``),
  residual dropout.  Same layout as ``glassgpt.models.gpt.CausalSelfAttention``.

The softmax backward in one line: for a = softmax(s) along a row,
ds = a * (da - sum(da * a)), because da_i/ds_j = a_i (delta_ij - a_j).

``causal_attention_reference`` is the readable version beside the fast one: the same
numbers one (batch, head, position) at a time, with the softmax Jacobian written out.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from glassgpt.glass.layers import LinearCache, dropout_backward, dropout_forward, linear_backward, linear_forward


@functools.lru_cache(maxsize=32)
def causal_mask(T: int, dtype: str) -> np.ndarray:
    """(T, T) additive mask: 0 on and below the diagonal, -inf above (position t never sees t' > t)."""
    mask = np.triu(np.full((T, T), -np.inf, dtype=dtype), k=1)
    mask.setflags(write=False)
    return mask


class AttentionCache(NamedTuple):
    q: np.ndarray  # (B, H, T, D) queries
    k: np.ndarray  # (B, H, T, D) keys
    v: np.ndarray  # (B, H, T, D) values
    att: np.ndarray  # (B, H, T, T) softmax weights
    att_d: np.ndarray  # the weights after dropout (att itself when off)
    drop: np.ndarray | None  # the dropout mask, or None
    scale: float  # 1 / sqrt(D)


def causal_attention_forward(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    p_drop: float = 0.0,
    rng: np.random.Generator | None = None,
    training: bool = False,
):
    """q, k, v (B, H, T, D) -> y (B, H, T, D).

    scores = q k^T / sqrt(D) + mask      (B, H, T, T)
    att    = softmax(scores) along the last axis (row t: how much position t reads from each t' <= t)
    y      = dropout(att) v"""
    D = q.shape[-1]
    scale = 1.0 / math.sqrt(D)
    s = np.matmul(q, k.swapaxes(-1, -2))
    s *= scale
    s += causal_mask(q.shape[-2], s.dtype.str)
    s -= s.max(axis=-1, keepdims=True)  # stable softmax: the row max becomes exp(0) = 1
    att = np.exp(s, out=s)
    att /= att.sum(axis=-1, keepdims=True)
    att_d, drop = dropout_forward(att, p_drop, rng, training)
    y = np.matmul(att_d, v)
    return y, AttentionCache(q, k, v, att, att_d, drop, scale)


def causal_attention_backward(dy: np.ndarray, cache: AttentionCache):
    """dy (B, H, T, D) -> (dq, dk, dv), each (B, H, T, D).

    dv = dropout(att)^T dy;  datt = dropout_backward(dy v^T);
    ds = att * (datt - rowsum(datt * att))  (softmax backward; masked entries have att = 0
    so they get no gradient);  dq = ds k / sqrt(D);  dk = ds^T q / sqrt(D)."""
    att = cache.att
    dv = np.matmul(cache.att_d.swapaxes(-1, -2), dy)
    datt = dropout_backward(np.matmul(dy, cache.v.swapaxes(-1, -2)), cache.drop)
    ds = datt * att
    ds -= att * ds.sum(axis=-1, keepdims=True)  # att*datt - att*sum(att*datt)
    ds *= cache.scale
    dq = np.matmul(ds, cache.k)
    dk = np.matmul(ds.swapaxes(-1, -2), cache.q)
    return dq, dk, dv


def causal_attention_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, dy: np.ndarray):
    """The textbook causal attention (no dropout), forward and backward in one: returns
    (y, dq, dk, dv) as ``causal_attention_forward`` then ``causal_attention_backward`` give them.

    One query at a time: position t scores the keys 0..t, softmaxes the scores and reads the
    values with those weights; backward runs each of those three steps in reverse, with the
    full softmax Jacobian instead of its one-line shortcut."""
    B, H, T, D = q.shape
    scale = 1.0 / math.sqrt(D)
    y, dq, dk, dv = (np.zeros_like(q) for _ in range(4))
    for b in range(B):
        for h in range(H):
            for t in range(T):
                keys, values, query = k[b, h, : t + 1], v[b, h, : t + 1], q[b, h, t]  # t sees 0..t only
                s = keys @ query * scale  # (t+1,) scores
                a = np.exp(s - s.max())
                a /= a.sum()  # softmax
                y[b, h, t] = a @ values
                dv[b, h, : t + 1] += np.outer(a, dy[b, h, t])
                da = values @ dy[b, h, t]
                jacobian = np.diag(a) - np.outer(a, a)  # da_i/ds_j = a_i (delta_ij - a_j), symmetric
                ds = jacobian @ da
                dq[b, h, t] = ds @ keys * scale
                dk[b, h, : t + 1] += np.outer(ds, query) * scale
    return y, dq, dk, dv


class SelfAttentionCache(NamedTuple):
    c_attn: LinearCache  # the fused q/k/v projection
    core: AttentionCache  # the attention itself
    c_proj: LinearCache  # the output projection
    drop: np.ndarray | None  # the residual dropout mask, or None
    B: int
    T: int
    C: int
    H: int  # heads
    D: int  # channels per head, C / H


def self_attention_forward(
    x: np.ndarray,
    w_attn: np.ndarray,
    b_attn: np.ndarray | None,
    w_proj: np.ndarray,
    b_proj: np.ndarray | None,
    n_head: int,
    p_drop: float = 0.0,
    rng: np.random.Generator | None = None,
    training: bool = False,
):
    """x (B, T, C) -> out (B, T, C).

    w_attn (3C, C), b_attn (3C,) or None: the fused projection; its output columns are
    [q | k | v], each split into n_head heads of D = C / n_head.  w_proj (C, C), b_proj (C,)."""
    B, T, C = x.shape
    H, D = n_head, C // n_head
    qkv, c_attn = linear_forward(x, w_attn, b_attn)  # (B, T, 3C)
    q, k, v = qkv.reshape(B, T, 3, H, D).transpose(2, 0, 3, 1, 4)  # three (B, H, T, D) views
    y, c_core = causal_attention_forward(q, k, v, p_drop, rng, training)
    y = y.transpose(0, 2, 1, 3).reshape(B, T, C)  # merge heads: (B, T, H, D) -> (B, T, C)
    out, c_proj = linear_forward(y, w_proj, b_proj)
    out, drop = dropout_forward(out, p_drop, rng, training)
    return out, SelfAttentionCache(c_attn, c_core, c_proj, drop, B, T, C, H, D)


def self_attention_backward(dout: np.ndarray, cache: SelfAttentionCache):
    """dout (B, T, C) -> (dx (B, T, C), dw_attn, db_attn, dw_proj, db_proj) (biases None when absent)."""
    B, T, C, H, D = cache.B, cache.T, cache.C, cache.H, cache.D
    dy, dw_proj, db_proj = linear_backward(dropout_backward(dout, cache.drop), cache.c_proj)
    dy = dy.reshape(B, T, H, D).transpose(0, 2, 1, 3)  # split heads: (B, H, T, D) view
    dq, dk, dv = causal_attention_backward(dy, cache.core)
    dqkv = np.empty((B, T, 3, H, D), dtype=dout.dtype)  # back to the fused [q | k | v] layout
    for i, d in enumerate((dq, dk, dv)):
        dqkv[:, :, i] = d.transpose(0, 2, 1, 3)
    dx, dw_attn, db_attn = linear_backward(dqkv.reshape(B, T, 3 * C), cache.c_attn)
    return dx, dw_attn, db_attn, dw_proj, db_proj
