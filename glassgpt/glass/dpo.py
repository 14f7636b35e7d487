"""DPO's loss, forward and backward to the logits by hand.

A reply y's log-probability is the sum of its tokens' log-probabilities,
log π(y) = Σ_t log softmax(z_t)[y_t], over the reply's positions only (the prompt's targets are
-1).  DPO (Rafailov et al., 2023) calls β (log π(y) − log π_ref(y)) the *implicit reward* of
y (π_ref: the frozen model it started from) and applies Bradley–Terry to it:

    h = β [(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]
    L = −log σ(h)                         averaged over N pairs (w: chosen, l: rejected)

Backward, in three short steps:

    dL/dh        = (σ(h) − 1) / N
    dL/dlog π(y_w) = β dL/dh,   dL/dlog π(y_l) = −β dL/dh
    dlog π(y)/dz_t = onehot(y_t) − softmax(z_t)     (each position of the reply)

so every chosen token's logits move by −β(σ(h) − 1)/N · (onehot − p): its probability goes up,
by more the worse the pair is ranked; every rejected token's the other way.  A pair the model
already ranks right by far (σ(h) ≈ 1) stops pulling.  With α > 0 the loss also has
α · mean(−log π(y_w) / n_w), the chosen replies' per-token NLL (n_w: the reply's tokens), which
only adds −α/(N n_w) to dL/dlog π(y_w): the chosen reply keeps pulling even once its pair is
ranked right.  ``token_contributions`` is each token's
share of its reply's implicit reward, β (log π(y_t) − log π_ref(y_t)): what ``explain``
colours.  ``stage_gradcheck`` checks all of it against autograd.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from glassgpt.glass.bradley_terry import sigmoid


class SequenceCache(NamedTuple):
    probs: np.ndarray  # (N, T, V) softmax of the logits
    targets: np.ndarray  # (N, T), -1 where not counted


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def token_logprobs(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, SequenceCache]:
    """(N, T, V) logits and (N, T) targets -> (log π of each target, 0 where -1; cache)."""
    logp = log_softmax(logits)
    safe = np.where(targets >= 0, targets, 0)
    picked = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0] * (targets >= 0)
    return picked, SequenceCache(np.exp(logp), targets)


def token_logprobs_backward(dlogp: np.ndarray, cache: SequenceCache) -> np.ndarray:
    """dL/dlog π per position (N, T) -> dL/dlogits (N, T, V) = dlogp · (onehot − softmax), 0 where not counted."""
    counted = cache.targets >= 0
    d = dlogp * counted
    dlogits = -cache.probs * d[..., None]
    rows, cols = np.nonzero(counted)
    dlogits[rows, cols, cache.targets[rows, cols]] += d[rows, cols]
    return dlogits


class DPOCache(NamedTuple):
    chosen: SequenceCache
    rejected: SequenceCache
    sigma: np.ndarray  # σ(h) per pair
    beta: float
    nll: float  # α
    tokens: np.ndarray  # n_w, each chosen reply's token count


def dpo_forward(logits_w, targets_w, logits_l, targets_l, ref_w, ref_l, beta: float, nll: float = 0.0):
    """Logits and targets of the chosen (w) and rejected (l) replies, the reference's summed
    log-probabilities (N,), β and α -> (mean loss, cache)."""
    lw, cache_w = token_logprobs(logits_w, targets_w)
    ll, cache_l = token_logprobs(logits_l, targets_l)
    h = beta * ((lw.sum(-1) - ref_w) - (ll.sum(-1) - ref_l))
    tokens = np.maximum((targets_w >= 0).sum(-1), 1)
    loss = np.logaddexp(0.0, -h).mean() + nll * (-lw.sum(-1) / tokens).mean()
    return loss, DPOCache(cache_w, cache_l, sigmoid(h), beta, nll, tokens)


def dpo_backward(dloss, cache: DPOCache) -> tuple[np.ndarray, np.ndarray]:
    """dloss (scalar) -> (dL/dlogits of the chosen, of the rejected)."""
    n = len(cache.sigma)
    dh = float(dloss) * (cache.sigma - 1.0) / n
    dchosen = cache.beta * dh - float(dloss) * cache.nll / (n * cache.tokens)
    dw = np.broadcast_to(dchosen[:, None], cache.chosen.targets.shape)
    dl = np.broadcast_to((-cache.beta * dh)[:, None], cache.rejected.targets.shape)
    return token_logprobs_backward(dw, cache.chosen), token_logprobs_backward(dl, cache.rejected)


def token_contributions(logp: np.ndarray, ref_logp: np.ndarray, beta: float) -> np.ndarray:
    """Each token's share of its reply's implicit reward: β (log π(y_t) − log π_ref(y_t))."""
    return beta * (logp - ref_logp)
