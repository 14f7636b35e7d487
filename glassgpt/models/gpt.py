"""The GPT: token + position embeddings, pre-norm transformer blocks, final LayerNorm, LM head.

Parameter names follow the Hugging Face GPT-2 layout (``transformer.wte.weight``,
``transformer.h.0.attn.c_attn.weight`` …) so weights move between this model, the NumPy
glass engine and ``transformers``.  Linear weights are stored as ``(out, in)`` like
``torch.nn.Linear``; Hugging Face's Conv1D stores the transpose, which interop handles.

Shapes: B batch, T time (≤ block_size), C = n_embd, H heads of size C/H, V vocabulary.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..errors import GlassError


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t only sees positions ≤ t."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.qkv_bias)  # fused q, k, v
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)
        self.record_attention = False  # when True, keep the (B, H, T, T) weights in .attention
        self.attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, H, T, C/H)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        p = self.dropout if self.training else 0.0
        if self.record_attention:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            self.attention = weights.detach()
            y = F.dropout(weights, p) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, cfg.ffn_width, bias=cfg.bias)
        self.act = nn.GELU(approximate="tanh") if cfg.activation == "gelu" else nn.ReLU()
        self.c_proj = nn.Linear(cfg.ffn_width, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.vocab_size <= 0:
            raise GlassError("the model's vocab_size must be set from the tokenizer before building a GPT.")
        self.config = cfg
        V = cfg.padded_vocab_size
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(V, cfg.n_embd),
            wpe=nn.Embedding(cfg.block_size, cfg.n_embd),
            drop=nn.Dropout(cfg.dropout),
            h=nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer)),
            ln_f=nn.LayerNorm(cfg.n_embd, bias=cfg.bias),
        ))
        self.lm_head = nn.Linear(cfg.n_embd, V, bias=cfg.head_bias and not cfg.tie_weights)
        if cfg.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2 initialisation: N(0, 0.02) weights, zero biases, and the two residual
        projections of each block scaled by 1/√(2·n_layer) so the residual stream's
        variance does not grow with depth."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 1:  # LayerNorm gains
                nn.init.ones_(p)
            elif name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * self.config.n_layer))
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, T) int64 -> logits (B, T, V); loss = mean cross-entropy over targets != -1."""
        B, T = idx.shape
        if T > self.config.block_size:
            raise GlassError(f"a sequence of {T} tokens is longer than the model's context of {self.config.block_size}.")
        pos = torch.arange(T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        if self.config.padded_vocab_size != self.config.vocab_size:
            logits = logits[..., : self.config.vocab_size]  # padded rows exist for speed only
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    # ---- weights in and out (safetensors-friendly: no shared tensors) -------------------
    def weights(self) -> dict[str, torch.Tensor]:
        """The state dict without the tied duplicate of the embedding (Hugging Face omits it too)."""
        sd = self.state_dict()
        if self.config.tie_weights:
            sd.pop("lm_head.weight", None)
        return sd

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load ``weights()``-style tensors, with one clear error for any mismatch."""
        own = self.weights()
        missing = sorted(set(own) - set(tensors))
        extra = sorted(set(tensors) - set(own))
        if missing or extra:
            raise GlassError(
                f"the weights do not fit this model (missing {missing[:3]}, unexpected {extra[:3]}); "
                "the checkpoint was made for a different configuration."
            )
        for name, t in tensors.items():
            if tuple(t.shape) != tuple(own[name].shape):
                raise GlassError(f"weight {name} has shape {tuple(t.shape)} but the model expects {tuple(own[name].shape)}.")
        self.load_state_dict(tensors, strict=False)

    def num_params(self) -> int:
        """Number of distinct parameters (a tied matrix counts once)."""
        return sum(p.numel() for p in self.parameters())

    def param_table(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(name, shape, count) for every distinct parameter, in definition order."""
        return [(n, tuple(p.shape), p.numel()) for n, p in self.named_parameters()]
