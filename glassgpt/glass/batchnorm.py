"""BatchNorm1d as a forward/backward pair (docs/curriculum.md, C2: the makemore MLP and WaveNet).

Each feature (the LAST axis) is normalised with statistics taken over every other axis:
x (N, C) over N, or x (N, L, C) over N and L (the WaveNet fix, where torch's own
BatchNorm1d would want (N, C, L)).

Training: normalise with the batch mean and the biased batch variance, and move the
running statistics toward the batch ones:
    running = (1 - momentum) * running + momentum * batch
where the running variance uses the UNBIASED batch variance (divide by n - 1), exactly like
``torch.nn.BatchNorm1d``.  Inference: normalise with the running statistics, so one
example at a time gives the same answer as it would inside any batch.

``batchnorm_reference`` is the readable version beside the fast one: training-mode
forward and backward derived one step at a time.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from glassgpt.glass.layers import normalize_reference


class BatchNormCache(NamedTuple):
    xhat: np.ndarray  # like x: the normalised input
    rstd: np.ndarray  # (C,) 1 / sqrt(var + eps) of each feature
    gamma: np.ndarray  # (C,) the gain
    training: bool  # batch statistics (True) or running ones (False)


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    training: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """x (N, C) or (N, L, C); gamma, beta, running_mean, running_var (C,) -> y like x.

    In training, ``running_mean`` and ``running_var`` are updated IN PLACE (they are the
    layer's buffers, not parameters: no gradient flows into them)."""
    axes = tuple(range(x.ndim - 1))
    if training:
        n = x.size // x.shape[-1]
        mean = x.mean(axis=axes)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes)  # biased: used to normalise
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean
        running_var *= 1.0 - momentum
        running_var += momentum * var * (n / max(n - 1, 1))  # unbiased: the population estimate
    else:
        xc = x - running_mean
        var = running_var
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc * rstd
    y = xhat * gamma + beta
    return y, BatchNormCache(xhat, rstd, gamma, training)


def batchnorm_backward(dy: np.ndarray, cache: BatchNormCache):
    """dy like x -> (dx, dgamma (C,), dbeta (C,)).

    Training, in one formula (n = number of rows each statistic averaged over):
        dx = gamma * rstd / n * (n * dy - sum(dy) - xhat * sum(dy * xhat))
    The last two terms are the gradient through the batch mean and batch variance: every
    example of the batch influences every other one's output.  Inference statistics are
    constants, so there dx = gamma * rstd * dy."""
    xhat, rstd, gamma = cache.xhat, cache.rstd, cache.gamma
    axes = tuple(range(dy.ndim - 1))
    dbeta = dy.sum(axis=axes)
    dgamma = np.sum(dy * xhat, axis=axes)
    if not cache.training:
        return dy * (gamma * rstd), dgamma, dbeta
    n = dy.size // dy.shape[-1]
    dx = n * dy
    dx -= dbeta
    dx -= xhat * dgamma
    dx *= gamma * rstd / n
    return dx, dgamma, dbeta


def batchnorm_reference(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dy: np.ndarray, eps: float = 1e-5):
    """Training-mode BatchNorm the textbook way, forward and backward in one: (y, dx, dgamma,
    dbeta) as ``batchnorm_forward(training=True)`` then ``batchnorm_backward`` give them (the
    running statistics are left out: no gradient flows through them)."""
    axes = tuple(range(x.ndim - 1))
    xhat, dx = normalize_reference(x, axes, eps, dy * gamma)
    return xhat * gamma + beta, dx, (dy * xhat).sum(axis=axes), dy.sum(axis=axes)
