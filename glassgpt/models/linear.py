"""The GPT's linear layer: ``nn.Linear``, plus a faster way to multiply a few rows on a CPU.

A linear layer stores its weight as ``(out, in)``, row after row.  Training multiplies a
whole batch of rows by it, and the matrix-multiply kernels are fast either way round.
Decoding multiplies *one* row per sequence by it, ``y = W x``: a matrix-vector product
that reads every weight once, so its speed is how fast the weights stream from memory.
Measured on a 2-core AMD EPYC with PyTorch's MKL build, one thread, the GPT-2 head
(50,257 × 384): ``F.linear(x, W)`` takes 9.2 ms, while ``x @ Wᵀ`` with ``Wᵀ`` stored
``(in, out)`` takes 3.4 ms, the same numbers multiplied in another order (the kernel for
the first layout works one dot product at a time; the second adds scaled rows of ``Wᵀ``,
which vectorises across the outputs).  The head is most of a decoding step, so this is
most of the difference between glassgpt's and ``transformers``' greedy tokens/s.

So when gradients are off, on the CPU, and the input is at most ``FEW_ROWS`` rows (one
token for each of a few sequences), ``Linear`` multiplies by a column-major copy of its
weight.  The copy is made on first use and made again whenever the weight changes (its
storage or its in-place version counter), so an RL policy that generates, trains and
generates again never reads a stale copy; the first grad-enabled call frees it, so
training does not carry a second copy of the weights.  The result equals ``F.linear``'s to
float rounding (a different summation order), not bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

#: at most this many input rows take the column-major path (measured: beyond 4 rows the two layouts cost the same)
FEW_ROWS = 4


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same names, same results to rounding) whose few-row,
    gradient-free CPU calls multiply by a column-major copy of the weight (module docstring)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self._columns: tuple[tuple[int, int], torch.Tensor] | None = None  # (weight's key, Wᵀ contiguous)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            self._columns = None
        elif few_rows(x, self.weight):
            return self.few_row_forward(x)
        return F.linear(x, self.weight, self.bias)

    def few_row_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``F.linear(x, W, b)`` as ``x @ Wᵀ + b`` with ``Wᵀ`` stored contiguous."""
        w = self.weight
        key = (w.data_ptr(), w._version)
        if self._columns is None or self._columns[0] != key:
            with torch.inference_mode(False), torch.no_grad():  # a plain tensor, usable outside inference mode
                self._columns = (key, w.detach().t().contiguous())
        rows = x.reshape(-1, self.in_features)
        y = rows @ self._columns[1] if self.bias is None else torch.addmm(self.bias, rows, self._columns[1])
        return y.view(*x.shape[:-1], self.out_features)


def few_rows(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``x`` (…, in) takes the column-major path: on the CPU, at most ``FEW_ROWS`` rows, a
    weight with a version counter (an inference-mode tensor has none), the same dtype."""
    return (
        x.device.type == "cpu"
        and x.numel() <= FEW_ROWS * weight.size(1)
        and not weight.is_inference()
        and x.dtype == weight.dtype
    )
