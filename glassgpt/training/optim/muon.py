"""Muon: momentum whose update is orthogonalised, for the 2-D weight matrices of the blocks.

For a weight matrix W with gradient G, each step
    B  = μ·B + G                               momentum buffer (starts at zero)
    U  = G + μ·B   (Nesterov)   or   U = B
    O  = NS(U)                                 ≈ the orthogonal factor of U (its singular values → ~1)
    W  = W·(1 − lr·wd)                         decoupled weight decay, as AdamW
    W  = W − lr·s·O                            s: a per-shape scale (below)

NS is the Newton–Schulz iteration: X₀ = U/‖U‖_F (so every singular value is ≤ 1), then
    Xₖ₊₁ = a·Xₖ + (b·A + c·A²)·Xₖ,   A = Xₖ·Xₖᵀ,
an odd polynomial applied to each singular value σ: p(σ) = aσ + bσ³ + cσ⁵, singular vectors
unchanged.  With (a, b, c) = (3.4445, −4.7750, 2.0315), the coefficients used by the public
speedrun work, five steps push every singular value that is not tiny into roughly
[0.68, 1.14]: not exactly 1, but the update's directions all move at a similar rate, which
is the point.  (With (1.5, −0.5, 0) the same loop is the classic cubic iteration, which
converges to exactly 1, only slower; the tests use it to check the loop.)  The iteration
runs with the wide orientation (rows ≤ columns) so A is the smaller Gram matrix, in float32,
or in bfloat16 when a run trains under bf16 autocast (``ns_dtype``; the iteration only needs
the singular values near 1, and bfloat16 products are ~1.8x faster on a CPU that multiplies
it natively); the momentum, the weights and the update stay float32.

The scale ``s`` makes the orthogonalised update comparable across shapes:
- ``"adamw"`` (default): 0.2·√max(rows, cols), which gives the update the root-mean-square
  of a typical AdamW update (~0.2), so the AdamW learning rate and weight decay carry over;
- ``"aspect"``: √max(1, rows/cols), the original form, meant for learning rates ~0.02–0.05.

State, per parameter: ``momentum_buffer`` (saved by parameter name, like AdamW's moments).
"""

from __future__ import annotations

import math

import torch

#: quintic Newton–Schulz coefficients (a, b, c)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
MUON_SCALES = ("adamw", "aspect")


def newton_schulz(
    g: torch.Tensor,
    steps: int = 5,
    coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    eps: float = 1e-7,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """An approximately orthogonal matrix with the singular vectors of the 2-D ``g``, computed
    in ``dtype``."""
    a, b, c = coefficients
    x = g.to(dtype)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / (x.norm() + eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if tall else x


def update_scale(shape: tuple[int, ...] | torch.Size, kind: str = "adamw") -> float:
    """The factor ``s`` of the update lr·s·O for a (rows, cols) weight (see the module docstring)."""
    rows, cols = shape[0], shape[1]
    if kind == "aspect":
        return math.sqrt(max(1.0, rows / cols))
    return 0.2 * math.sqrt(max(rows, cols))


class Muon(torch.optim.Optimizer):
    """Muon for 2-D parameters (see the module docstring).  Param groups may carry their own
    ``lr`` and ``weight_decay``, as with any torch optimizer."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_steps: int = 5,
        weight_decay: float = 0.0,
        scale: str = "adamw",
        ns_dtype: torch.dtype = torch.float32,
    ):
        if scale not in MUON_SCALES:
            raise ValueError(f"Muon scale must be one of {MUON_SCALES}, got {scale!r}")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                nesterov=nesterov,
                ns_steps=ns_steps,
                weight_decay=weight_decay,
                scale=scale,
                ns_dtype=ns_dtype,
            ),
        )
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError(f"Muon updates 2-D weights only, got a parameter of shape {tuple(p.shape)}")

    def pending(self) -> list[tuple[torch.Tensor, dict]]:
        """(parameter, its group) for every parameter with a gradient: the updates of a step."""
        return [(p, group) for group in self.param_groups for p in group["params"] if p.grad is not None]

    @staticmethod
    def work(p: torch.Tensor, group: dict) -> float:
        """About how many multiply-adds the update of ``p`` costs (its Newton–Schulz products):
        each step multiplies (m×n)(n×m), (m×m)(m×m) and (m×m)(m×n), m ≤ n."""
        m, n = sorted(p.shape[:2])
        return group["ns_steps"] * (2.0 * m * m * n + m**3)

    @torch.no_grad()
    def update(self, p: torch.Tensor, group: dict) -> None:
        """One parameter's step: momentum, Newton–Schulz, decay, update.  Parameters are
        independent, so any grouping of the updates over threads gives the same bytes."""
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        g = p.grad
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(p)
        buf = state["momentum_buffer"]
        buf.mul_(mu).add_(g)
        u = g.add(buf, alpha=mu) if group["nesterov"] else buf
        o = newton_schulz(u, group["ns_steps"], dtype=group["ns_dtype"]).to(p.dtype)
        if wd:
            p.mul_(1 - lr * wd)
        p.add_(o, alpha=-lr * update_scale(p.shape, group["scale"]))

    @torch.no_grad()
    def step(self, closure=None):
        for p, group in self.pending():
            self.update(p, group)
        return None
