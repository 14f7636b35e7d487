"""The Bradley–Terry loss of a reward model, forward and backward by hand.

A reward model gives each reply one number, its score r.  Bradley and Terry (1952) model the
chance that people prefer reply c to reply r as

    P(c ≻ r) = σ(r_c − r_r) = 1 / (1 + e^−(r_c − r_r))

so the loss of a pair, the negative log-likelihood of the preference people stated, is

    L = −log σ(d),  d = r_c − r_r − m          (m: an optional margin the chosen must win by)

averaged over N pairs.  Its gradient is one line: dL/dd = σ(d) − 1 (between −1 and 0: a pair
already ranked right by far pulls almost nothing, a pair ranked wrong pulls with nearly
full force), and d moves with r_c and against r_r:

    dL/dr_c = (σ(d) − 1) / N,   dL/dr_r = (1 − σ(d)) / N

The scores are the model's output here, its "logits"; from them the gradient flows into the
scalar head and the network as any other.  ``stage_gradcheck`` checks this against autograd.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class BradleyTerryCache(NamedTuple):
    sigma: np.ndarray  # σ(d) per pair
    n: int


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x), without overflow for large |x|."""
    return np.exp(-np.logaddexp(0.0, -x))


def bradley_terry_forward(chosen: np.ndarray, rejected: np.ndarray, margin: float = 0.0):
    """Scores (N,) of the chosen and the rejected replies -> (mean loss, cache)."""
    d = chosen - rejected - margin
    loss = np.logaddexp(0.0, -d).mean()  # −log σ(d) = log(1 + e^−d), stable
    return loss, BradleyTerryCache(sigmoid(d), len(d))


def bradley_terry_backward(dloss, cache: BradleyTerryCache) -> tuple[np.ndarray, np.ndarray]:
    """dloss (scalar) -> (dL/dr_chosen, dL/dr_rejected), each (N,)."""
    g = float(dloss) * (cache.sigma - 1.0) / cache.n
    return g, -g
