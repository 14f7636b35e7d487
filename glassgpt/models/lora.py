"""LoRA: low-rank adapters on the GPT's linears, trained while the GPT's own weights stay frozen.

A linear layer computes ``W x + b``.  An adapter adds a correction of rank ``r``:

    y = W x + b + (alpha / r) · B (A x)        A: (r, in), B: (out, r)

``A`` starts random (N(0, 1/in): A x has about unit scale) and ``B`` at zero, so at step 0
the adapted model *is* the base model, exactly; only ``A`` and ``B`` are trained, and a
rank-8 adapter on a 128-wide projection trains 2 · 8 · 128 numbers instead of 128².

The targets (``model.lora_targets``) are the attention's query, key, value and output
projections (``q``, ``k``, ``v``, ``o``; the default) and the MLP's two linears (``fc``,
``proj``).  The GPT keeps q, k and v in one fused ``c_attn`` linear, so ``q``, ``k`` and
``v`` are adapters on thirds of its output.  The base weights keep their Hugging Face GPT-2
names; the adapters are named beside them: ``transformer.h.0.attn.c_attn.lora_A.q``,
``…lora_B.q``, ``transformer.h.0.attn.c_proj.lora_A.o`` …

The tokens a stage adds (fine-tuning's chat tokens) have rows of the embedding, and of an
untied head, that the frozen model never learnt.  With ``model.lora_rows`` = n, the last n ids
of the vocabulary train those rows too: ``lora_rows`` tensors (n, C), zero at the start, are
added to them (``transformer.wte.lora_rows``; untied, ``lm_head.lora_rows`` and, with a head
bias, ``lm_head.lora_bias``; a tied head reads the embedding's).  The other rows stay frozen,
the GPT's weights keep their names, and the new tensors are adapters like A and B.

``merge(weights, cfg)`` folds every adapter into its linear (``W[rows] += (alpha/r) B A``)
and the rows into theirs, and returns plain GPT weights: what ``glassgpt merge`` writes and
``export --hf`` exports.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from glassgpt.config import ModelConfig
from glassgpt.models.linear import Linear
from glassgpt.rundir.layout import ADAPTER_MARK

#: target -> (the linear it adapts, inside a block, and which third of c_attn's output; None: all of it)
TARGETS: dict[str, tuple[str, int | None]] = {
    "q": ("attn.c_attn", 0),
    "k": ("attn.c_attn", 1),
    "v": ("attn.c_attn", 2),
    "o": ("attn.c_proj", None),
    "fc": ("mlp.c_fc", None),
    "proj": ("mlp.c_proj", None),
}


#: a tensor of the added tokens' rows -> the weight it is added to (its last ``model.lora_rows`` rows)
ROWS = {
    "transformer.wte.lora_rows": "transformer.wte.weight",
    "lm_head.lora_rows": "lm_head.weight",
    "lm_head.lora_bias": "lm_head.bias",
}
#: a tied head's rows are the embedding's: a duplicate that ``GPT.weights()`` leaves out
TIED_ROWS = "lm_head.lora_rows"


def is_adapter(name: str) -> bool:
    return ADAPTER_MARK in name


def parts_for(cfg: ModelConfig, linear: str) -> dict[str, tuple[int, int]]:
    """The adapters of the block linear ``linear`` (``attn.c_attn`` …): target -> the rows
    ``[start, stop)`` of its output it adds to; empty without LoRA."""
    if not cfg.lora_rank:
        return {}
    out = {"attn.c_attn": 3 * cfg.n_embd, "mlp.c_fc": cfg.ffn_width}.get(linear, cfg.n_embd)
    parts = {}
    for target in cfg.lora_targets:
        module, third = TARGETS[target]
        if module == linear:
            parts[target] = (0, out) if third is None else (third * cfg.n_embd, (third + 1) * cfg.n_embd)
    return parts


class LoRALinear(Linear):
    """The GPT's ``Linear`` (its ``weight`` and ``bias`` under their usual names) plus an adapter per
    part of its output (see the module docstring)."""

    def __init__(self, in_features: int, out_features: int, bias: bool, parts: dict, rank: int, alpha: float):
        super().__init__(in_features, out_features, bias=bias)
        self.parts, self.scale = dict(parts), alpha / rank
        self.lora_A = nn.ParameterDict({p: nn.Parameter(torch.empty(rank, in_features)) for p in parts})
        self.lora_B = nn.ParameterDict({p: nn.Parameter(torch.zeros(b - a, rank)) for p, (a, b) in parts.items()})

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """(alpha / r) · B A x, each part in its rows of the output and zeros elsewhere."""
        pieces, at = [], 0
        for name, (start, stop) in sorted(self.parts.items(), key=lambda kv: kv[1][0]):
            if start > at:
                pieces.append(x.new_zeros(*x.shape[:-1], start - at))
            pieces.append(F.linear(F.linear(x, self.lora_A[name]), self.lora_B[name]))
            at = stop
        if at < self.out_features:
            pieces.append(x.new_zeros(*x.shape[:-1], self.out_features - at))
        return self.scale * torch.cat(pieces, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.delta(x)


def row_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The tensors that train the added tokens' rows (name -> shape; see the module docstring),
    empty without LoRA or without added tokens."""
    n, C = cfg.lora_rows, cfg.n_embd
    if not (cfg.lora_rank and n):
        return {}
    shapes: dict[str, tuple[int, ...]] = {"transformer.wte.lora_rows": (n, C)}
    if not cfg.tie_weights:
        shapes["lm_head.lora_rows"] = (n, C)
        if cfg.head_bias:
            shapes["lm_head.lora_bias"] = (n,)
    return shapes


class RowsEmbedding(nn.Embedding):
    """``nn.Embedding`` plus ``lora_rows`` (n, C), added to the rows of the ids ``[start, start + n)``."""

    def __init__(self, num_embeddings: int, embedding_dim: int, start: int, n: int):
        super().__init__(num_embeddings, embedding_dim)
        self.start = start
        self.lora_rows = nn.Parameter(torch.zeros(n, embedding_dim))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        at = idx - self.start
        added = (at >= 0) & (at < self.lora_rows.size(0))
        rows = F.embedding(at.clamp(0, self.lora_rows.size(0) - 1), self.lora_rows)
        return super().forward(idx) + torch.where(added.unsqueeze(-1), rows, 0.0)


class RowsHead(Linear):
    """The LM head plus ``lora_rows`` (and ``lora_bias``): the logits of the ids ``[start, start + n)``
    gain ``x · lora_rows[i] (+ lora_bias[i])``.  ``rows``: a tied head's, the embedding's ``lora_rows``."""

    def __init__(self, in_features: int, out_features: int, bias: bool, start: int, rows: nn.Parameter | None, n: int):
        super().__init__(in_features, out_features, bias=bias)
        self.start = start
        self.lora_rows = rows if rows is not None else nn.Parameter(torch.zeros(n, in_features))
        self.lora_bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        added = F.linear(x, self.lora_rows, self.lora_bias)
        return super().forward(x) + F.pad(added, (self.start, self.out_features - self.start - added.size(-1)))


def embedding(cfg: ModelConfig) -> nn.Embedding:
    """The token embedding: a plain ``nn.Embedding``, or with the added tokens' rows (``model.lora_rows``)."""
    if not row_shapes(cfg):
        return nn.Embedding(cfg.padded_vocab_size, cfg.n_embd)
    return RowsEmbedding(cfg.padded_vocab_size, cfg.n_embd, cfg.vocab_size - cfg.lora_rows, cfg.lora_rows)


def head(cfg: ModelConfig, bias: bool, tied_to: nn.Module | None) -> Linear:
    """The LM head: a plain ``Linear``, or with the added tokens' rows; ``tied_to``: the embedding
    whose rows a tied head shares (the GPT ties the weight itself)."""
    if not row_shapes(cfg):
        return Linear(cfg.n_embd, cfg.padded_vocab_size, bias=bias)
    rows = tied_to.lora_rows if isinstance(tied_to, RowsEmbedding) else None
    start = cfg.vocab_size - cfg.lora_rows
    return RowsHead(cfg.n_embd, cfg.padded_vocab_size, bias, start, rows, cfg.lora_rows)


def linear(cfg: ModelConfig, name: str, in_features: int, out_features: int, bias: bool) -> Linear:
    """The block linear ``name`` (``attn.c_attn`` …): a plain ``Linear``, or with adapters
    when ``model.lora_targets`` names it."""
    parts = parts_for(cfg, name)
    if not parts:
        return Linear(in_features, out_features, bias=bias)
    return LoRALinear(in_features, out_features, bias, parts, cfg.lora_rank, cfg.lora_alpha)


def init_adapter(name: str, p: torch.Tensor) -> None:
    """A at N(0, 1/in), B and the added tokens' rows at zero (the GPT's initialisation calls this
    for adapter tensors)."""
    if ".lora_A." in name:
        nn.init.normal_(p, 0.0, 1.0 / math.sqrt(p.size(1)))
    else:
        nn.init.zeros_(p)


def fresh_adapters(cfg: ModelConfig, seed: int) -> dict[str, torch.Tensor]:
    """New adapters for ``cfg`` (A from N(0, 1/in) drawn with ``seed``, B and the added tokens' rows
    zero), named as the GPT names them: what a stage adds to a trained model's weights to start LoRA."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for i in range(cfg.n_layer):
        for linear_name in sorted({module for module, _ in TARGETS.values()}):
            in_features = cfg.ffn_width if linear_name == "mlp.c_proj" else cfg.n_embd
            for target, (start, stop) in parts_for(cfg, linear_name).items():
                prefix = f"transformer.h.{i}.{linear_name}"
                a = torch.randn(cfg.lora_rank, in_features, generator=gen) / math.sqrt(in_features)
                out[f"{prefix}.lora_A.{target}"] = a
                out[f"{prefix}.lora_B.{target}"] = torch.zeros(stop - start, cfg.lora_rank)
    return {**out, **{name: torch.zeros(shape) for name, shape in row_shapes(cfg).items()}}


def freeze_base(model: nn.Module) -> None:
    """Only the adapters (and the added tokens' rows) train: every other parameter stops asking for gradients."""
    for name, p in model.named_parameters():
        p.requires_grad_(is_adapter(name))


def adapter_count(cfg: ModelConfig) -> int:
    """Numbers in the adapters of ``cfg``, the added tokens' rows included (0 without LoRA)."""
    if not cfg.lora_rank:
        return 0
    C, F_ = cfg.n_embd, cfg.ffn_width
    shapes = {"q": (C, C), "k": (C, C), "v": (C, C), "o": (C, C), "fc": (C, F_), "proj": (F_, C)}
    rows = sum(math.prod(shape) for shape in row_shapes(cfg).values())
    return cfg.n_layer * sum(cfg.lora_rank * (shapes[t][0] + shapes[t][1]) for t in cfg.lora_targets) + rows


def merge(weights: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Plain GPT weights: every adapter folded into its linear, ``W[start:stop] += (alpha/r) B A``, and
    the added tokens' rows into the last ``model.lora_rows`` rows of theirs."""
    out = {k: v for k, v in weights.items() if not is_adapter(k)}
    scale = cfg.lora_alpha / cfg.lora_rank if cfg.lora_rank else 0.0
    for i in range(cfg.n_layer):
        for linear_name in {module for module, _ in TARGETS.values()}:
            prefix = f"transformer.h.{i}.{linear_name}"
            for target, (start, stop) in parts_for(cfg, linear_name).items():
                a, b = weights[f"{prefix}.lora_A.{target}"], weights[f"{prefix}.lora_B.{target}"]
                w = out[f"{prefix}.weight"].clone()
                w[start:stop] += scale * (b.double() @ a.double()).to(w.dtype)
                out[f"{prefix}.weight"] = w
    for name in row_shapes(cfg):
        w = out[ROWS[name]].clone()
        w[cfg.vocab_size - cfg.lora_rows : cfg.vocab_size] += weights[name].to(w.dtype)
        out[ROWS[name]] = w
    return out


def without_lora(cfg: ModelConfig) -> ModelConfig:
    """The model configuration with the adapters folded in (no LoRA settings left)."""
    return dataclasses.replace(
        cfg, lora_rank=0, lora_alpha=ModelConfig.lora_alpha, lora_targets=ModelConfig.lora_targets, lora_rows=0
    )


def adapters(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The adapter tensors alone (what ``adapters.safetensors`` holds)."""
    return {k: v for k, v in weights.items() if is_adapter(k)}
