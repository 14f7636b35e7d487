"""Proof that the hand-written gradients are right: the glass GPT against PyTorch autograd.

``check_model(cfg, weights, x, y, dtype)`` runs one batch through both engines from the
same weights and compares the logits, the loss and the gradient of every parameter, each
with its own tolerance (``tolerance(name, dtype)``, table below).  ``numerical_gradient``
is the third referee: central finite differences, for float64 checks of single layers.

The error measure is relative to the tensor's scale:
    rel = max |glass - torch| / max |torch|
so a gradient whose entries are all tiny is judged against its own size, and an entry that
should be zero but is not counts as much as one that is wrong by the same amount.

Both engines run with dropout OFF (they draw different masks), and the torch reference loss
is computed in the checked dtype (the torch GPT's own loss casts logits to float32, which
would blur a float64 check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from glassgpt.glass.model import GPT
from glassgpt.models import GPT as TorchGPT

# (kind, matches(name), float32 tolerance, float64 tolerance, why)
# float32 roundoff is ~6e-8 per operation; the two engines add the same numbers in different
# orders (blocked BLAS, pairwise sums), so differences grow with the length of each sum and
# with the depth of the network.  Measured at init and on trained runs the worst is ~2e-6;
# the tolerances keep a ~10-25x margin, and any real bug gives errors of order 1.
# float64: the same orders of magnitude scaled by 2^-29, so 1e-9 still leaves a margin of
# >1000x while catching any wrong formula.
TOLERANCES: list[tuple[str, Callable[[str], bool], float, float, str]] = [
    ("loss", lambda n: n == "loss", 2e-6, 1e-10, "a mean of float32 log-probabilities"),
    ("logits", lambda n: n == "logits", 2e-5, 1e-10, "every block adds float32 matmul roundoff to the residual stream"),
    (
        "embedding",
        lambda n: n.startswith(("transformer.wte", "transformer.wpe")),
        3e-5,
        1e-9,
        "scatter-add sums the gradient of every position (plus the head's, when tied)",
    ),
    (
        "layernorm",
        lambda n: ".ln_" in n,
        5e-5,
        1e-9,
        "gains sum dy*xhat over every position; the row means in the backward cancel",
    ),
    ("attention", lambda n: ".attn." in n, 5e-5, 1e-9, "through the softmax backward, whose row sums cancel"),
    ("mlp", lambda n: ".mlp." in n, 3e-5, 1e-9, "two matmuls and the activation's derivative"),
    ("head", lambda n: n.startswith("lm_head"), 2e-5, 1e-9, "one matmul from the loss gradient"),
]


def tolerance(name: str, dtype: str = "float32") -> tuple[float, str]:
    """(relative tolerance, reason) for the tensor ``name`` ("loss", "logits" or a parameter)."""
    for kind, matches, tol32, tol64, why in TOLERANCES:
        if matches(name):
            return (tol64 if dtype == "float64" else tol32), f"{kind}: {why}"
    return (1e-9 if dtype == "float64" else 5e-5), "other"


def relative_error(actual, expected) -> tuple[float, float]:
    """(max |actual - expected|, that divided by max |expected|)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    diff = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return diff, diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6, indices=None) -> np.ndarray:
    """Central differences (f(x + eps) - f(x - eps)) / 2 eps of the scalar ``f()`` with respect to
    every entry of ``x`` (changed in place and restored), or only at ``indices`` (others 0)."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape) if indices is None else indices:
        old = x[idx]
        x[idx] = old + eps
        plus = f()
        x[idx] = old - eps
        minus = f()
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


@dataclass
class CheckRow:
    name: str
    shape: tuple
    max_abs: float
    rel: float
    tol: float
    reason: str

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.rel)) and self.rel <= self.tol


def check_model(
    cfg, weights: dict | None, x: np.ndarray, y: np.ndarray, dtype: str = "float32", seed: int = 0
) -> list[CheckRow]:
    """Compare the glass GPT with the torch GPT on one batch: logits, loss and every gradient.

    ``weights`` (name -> torch tensor) or None for a fresh initialisation from ``seed``."""
    tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tm = TorchGPT(cfg)
    if weights is not None:
        tm.load_weights(weights)
    tm = tm.to(tdtype).eval()  # eval: dropout off
    glass = GPT.from_torch(tm, dtype=np.dtype(dtype))

    logits_t, _ = tm(torch.from_numpy(x))
    loss_t = F.cross_entropy(logits_t.reshape(-1, logits_t.size(-1)), torch.from_numpy(y).reshape(-1), ignore_index=-1)
    loss_t.backward()
    logits_g, loss_g, cache = glass.forward(x, y)
    grads = glass.backward(cache)

    rows = []

    def add(name: str, actual, expected) -> None:
        diff, rel = relative_error(actual, expected)
        tol, reason = tolerance(name, dtype)
        rows.append(CheckRow(name, tuple(np.shape(expected)), diff, rel, tol, reason))

    add("logits", logits_g, logits_t.detach().numpy())
    add("loss", loss_g, loss_t.detach().numpy())
    for name, p in tm.named_parameters():
        add(name, grads[name], p.grad.numpy())
    return rows
