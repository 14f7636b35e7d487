"""The building blocks of the makemore ladder, written out as small torch modules.

Each layer does one visible thing, so a model reads like the lecture's list of layers:

* ``Embedding`` — a table of one learned vector per character, looked up by id.
* ``FlattenConsecutive(n)`` — (B, T, C) -> (B, T/n, n*C): glues n neighbouring vectors into
  one.  With n = T it is a plain flatten (the Bengio MLP sees all characters at once); with
  n = 2 it is one level of the WaveNet tree, which fuses pairs, then pairs of pairs, so the
  information of a long context is merged slowly instead of squashed in one layer.
* ``Linear`` — y = x @ weight (+ bias), weight stored (fan_in, fan_out) as in the lecture.
  It is initialised N(0, 1) * gain / sqrt(fan_in) (Kaiming): the output of a random layer then
  has about the variance of its input, whatever the width.  A Linear followed by BatchNorm
  needs no bias: BatchNorm subtracts the mean, and its own beta is the bias.
* ``BatchNorm1d`` — normalises each feature (the LAST axis) with statistics over every
  other axis: (N, C) over N, and (N, L, C) over N and L, which is the fix the WaveNet needs
  (``torch.nn.BatchNorm1d`` wants (N, C, L) instead).  Training uses the batch's mean and
  biased variance and moves the running statistics ``running = (1 - momentum) * running +
  momentum * batch`` (unbiased variance, like torch); evaluation uses the running statistics,
  so one example alone gives the same answer as inside a batch.
* ``Tanh`` and ``Sequential``.

Every random number comes from the ``torch.Generator`` passed in, never the global one.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from glassgpt.errors import ConfigError, GlassError

__all__ = ["Embedding", "FlattenConsecutive", "Linear", "BatchNorm1d", "Tanh", "Sequential"]


class Embedding(nn.Module):
    """ids (...) int64 -> vectors (..., dim); weight (num, dim) initialised N(0, 1)."""

    def __init__(self, num: int, dim: int, *, generator: torch.Generator):
        super().__init__()
        self.weight = nn.Parameter(torch.randn((num, dim), generator=generator))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.weight[ids]


class FlattenConsecutive(nn.Module):
    """(B, T, C) -> (B, T/n, n*C); the middle axis is dropped when it becomes 1: (B, n*C)."""

    def __init__(self, n: int):
        super().__init__()
        if n < 1:
            raise ConfigError(f"FlattenConsecutive needs n >= 1, got {n}.")
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        if T % self.n:
            raise GlassError(
                f"FlattenConsecutive({self.n}) cannot group {T} positions; the context must be a multiple of {self.n}."
            )
        x = x.reshape(B, T // self.n, C * self.n)
        return x.squeeze(1) if x.shape[1] == 1 else x

    def extra_repr(self) -> str:
        return f"n={self.n}"


class Linear(nn.Module):
    """x (..., fan_in) -> (..., fan_out) = x @ weight + bias.

    ``weight`` ~ N(0, 1) * scale with scale = gain / sqrt(fan_in) unless ``scale`` is given;
    ``bias`` is zeros, or N(0, 1) * ``bias_scale`` when given (the lecture's MLP draws it)."""

    def __init__(
        self,
        fan_in: int,
        fan_out: int,
        bias: bool = True,
        *,
        generator: torch.Generator,
        gain: float = 1.0,
        scale: float | None = None,
        bias_scale: float | None = None,
    ):
        super().__init__()
        w_scale = gain / fan_in**0.5 if scale is None else scale
        self.weight = nn.Parameter(torch.randn((fan_in, fan_out), generator=generator) * w_scale)
        if not bias:
            self.bias = None
        elif bias_scale is None:
            self.bias = nn.Parameter(torch.zeros(fan_out))
        else:
            self.bias = nn.Parameter(torch.randn(fan_out, generator=generator) * bias_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.weight
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}, bias={self.bias is not None}"


class BatchNorm1d(nn.Module):
    """Normalise every feature (last axis) over all other axes; gamma, beta and running stats (dim,)."""

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"the BatchNorm momentum must be between 0 and 1, got {momentum}.")
        self.eps, self.momentum = eps, momentum
        self.gamma = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(x.dim() - 1))
        if self.training:
            n = x.numel() // x.shape[-1]
            if n < 2:
                raise ConfigError(
                    "BatchNorm cannot train on a batch of one example (its variance is undefined); "
                    "use a batch size of at least 2."
                )
            mean = x.mean(dims)
            var = x.var(dims, correction=0)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * (n / (n - 1)), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        xhat = (x - mean) * torch.rsqrt(var + self.eps)
        return self.gamma * xhat + self.beta

    def extra_repr(self) -> str:
        return f"{self.gamma.shape[0]}, eps={self.eps}, momentum={self.momentum}"


class Tanh(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


class Sequential(nn.Module):
    """Apply ``layers`` in order; parameters are named ``layers.<index>.<name>``."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x
