"""Rotary position embeddings (RoPE): position enters attention by rotating queries and keys.

Instead of adding a learned vector per position to the input, each head's query and key
are cut into D/2 pairs of channels, and pair i of the vector at position p is rotated by
the angle p·θᵢ, with θᵢ = base^(-2i/D) (the first pairs turn fast, the last ones slowly).
A rotation by angle a followed by the dot product with a vector rotated by b depends only
on b − a, so q_p · k_s depends on the positions only through s − p: attention sees how far
back a key is, not where the window started.  Nothing is learned and no table of weights
is stored; the cos/sin of every angle up to the context length is a buffer computed at
construction (not saved with the weights).

Pairs are the two halves of the head (channel i with channel i + D/2), the "rotate half"
layout; which channels form a pair is a convention and does not change what the model can
learn.  Applied in ``CausalSelfAttention.project`` with the tokens' position ids, so the KV
cache (keys are rotated before they are stored) and left-padded batches (each row passes
its own positions) work unchanged.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class Rotary(nn.Module):
    """``rotary(x, positions)``: x (B, H, T, D) rotated by the position ids (T,) or (B or 1, T)
    (None: 0 … T-1).  D must be even; positions must be below ``max_len``."""

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head size, got {head_dim}")
        theta = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (D/2,)
        angles = torch.arange(max_len, dtype=torch.float64)[:, None] * theta[None, :]  # (max_len, D/2)
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        if positions is None:
            positions = torch.arange(x.size(-2), device=x.device)
        cos, sin = self.cos[positions], self.sin[positions]  # (T, D/2) or (B, T, D/2)
        if cos.dim() == 3:
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # (B, 1, T, D/2): the same for every head
        x1, x2 = x.float().chunk(2, dim=-1)
        out = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
        return out.to(x.dtype)
