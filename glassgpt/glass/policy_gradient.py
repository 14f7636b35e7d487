"""The policy-gradient loss of RL, forward and backward to the logits by hand.

For one generated token y_t with the advantage A of its completion (its reward minus its
group's mean), the current policy's log-probability ℓ = log softmax(z_t)[y_t], the sampling
policy's ℓ_old and the reference's ℓ_ref:

    ρ   = e^(ℓ − ℓ_old)                          the probability ratio (1 on a fresh rollout)
    S   = min(ρA, clip(ρ, 1−ε, 1+ε)A)            PPO's clipped surrogate (ε = 0: S = ρA)
    k3  = e^δ − δ − 1,  δ = ℓ_ref − ℓ            the KL estimate to the reference (≥ 0)
    L   = (1/n) Σ_t (−S + β·k3)                  n: the generated tokens of the batch

Backward, per token, through ℓ:

    dS/dℓ  = ρA where the surrogate is not clipped, else 0     (clipped: ρ no longer matters)
    dk3/dℓ = 1 − e^δ                                           (0 where π = π_ref)
    dL/dℓ  = (−dS/dℓ + β dk3/dℓ) / n
    dL/dz_t = dL/dℓ · (onehot(y_t) − softmax(z_t))

On a fresh rollout ρ = 1 and β = 0, so dL/dz_t = −(A/n)(onehot − p): the cross-entropy
gradient of the sampled token scaled by −A/n, "the language-modelling loss on the sampled
tokens weighted by the reward" (REINFORCE).  A token of a better-than-average completion
(A > 0) gains probability, one of a worse one loses it.  ``stage_gradcheck`` checks this
against autograd of ``models.stage_losses.policy_gradient``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from glassgpt.glass.dpo import SequenceCache, token_logprobs, token_logprobs_backward


class PolicyGradientCache(NamedTuple):
    tokens: SequenceCache
    ratio: np.ndarray  # (N, T)
    active: np.ndarray  # (N, T) bool: generated and not clipped
    delta: np.ndarray  # (N, T) ℓ_ref − ℓ
    advantages: np.ndarray  # (N,)
    mask: np.ndarray  # (N, T) bool: generated
    beta: float
    n: int


def policy_gradient_forward(
    logits: np.ndarray,
    targets: np.ndarray,
    old: np.ndarray,
    ref: np.ndarray,
    advantages: np.ndarray,
    beta: float = 0.0,
    clip: float = 0.0,
):
    """(N, T, V) logits, (N, T) targets (-1: not generated), the old and reference log-probabilities
    (N, T), the advantages (N,) -> (mean loss per generated token, cache)."""
    logp, tokens = token_logprobs(logits, targets)
    mask = targets >= 0
    ratio = np.exp(logp - old)
    surrogate = ratio * advantages[:, None]
    clipped = np.zeros_like(mask)
    if clip > 0:
        bounded = np.clip(ratio, 1 - clip, 1 + clip) * advantages[:, None]
        clipped = (bounded < surrogate) & mask
        surrogate = np.minimum(surrogate, bounded)
    delta = ref - logp
    k3 = np.expm1(delta) - delta
    n = max(int(mask.sum()), 1)
    loss = ((-surrogate + beta * k3) * mask).sum() / n
    return loss, PolicyGradientCache(tokens, ratio, mask & ~clipped, delta, advantages, mask, beta, n)


def policy_gradient_backward(dloss, cache: PolicyGradientCache) -> np.ndarray:
    """dloss (scalar) -> dL/dlogits (N, T, V)."""
    dsurrogate = cache.ratio * cache.advantages[:, None] * cache.active
    dk3 = -np.expm1(cache.delta)  # 1 − e^δ
    dlogp = float(dloss) * (-dsurrogate + cache.beta * dk3) * cache.mask / cache.n
    return token_logprobs_backward(dlogp, cache.tokens)
