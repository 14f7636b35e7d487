"""The GPT: token + position embeddings, pre-norm transformer blocks, final LayerNorm, LM head.

Parameter names follow the Hugging Face GPT-2 layout (``transformer.wte.weight``,
``transformer.h.0.attn.c_attn.weight`` …) so weights move between this model, the NumPy
glass engine and ``transformers``.  Linear weights are stored as ``(out, in)`` like
``torch.nn.Linear``; Hugging Face's Conv1D stores the transpose, which interop handles.

Shapes: B batch, T time (≤ block_size), C = n_embd, H heads of size C/H, V vocabulary.

One forward pass serves everything: training (``model(idx, targets)``), cached generation
(``model(idx, kv_cache=cache)``, see ``kv_cache.py``), left-padded batches and packed
documents (``positions=``, ``segments=``), and diagnostics and figures, which read the
attention weights (``model.attention_maps(idx)``, ``CausalSelfAttention.weights``).
Attention itself is written once, in ``attend``.

The defaults are GPT-2's.  Options beyond it (``ModelConfig``; each keeps the parameter
names above, a new parameter gets a plain name): rotary positions instead of the ``wpe``
table (``pos = "rope"``, see ``rotary.py``), RMSNorm instead of LayerNorm (``norm``; the
gains keep the names ``ln_1``/``ln_2``/``ln_f``), unit-RMS queries and keys (``qk_norm``),
ReLU² in the MLP (``activation = "relu2"``), zero-initialised block output projections
(``zero_init_proj``), soft-capped logits (``logit_softcap``), an untied head
(``tie_weights``) and bias-free linears and norms (``bias``, ``qkv_bias``, ``head_bias``).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from glassgpt.config import ModelConfig
from glassgpt.errors import GlassError
from glassgpt.models import lora
from glassgpt.models.dropout import Dropout, cheap_masks, dropout
from glassgpt.models.kv_cache import KVCache
from glassgpt.models.rotary import Rotary
from glassgpt.models.weights import check_weights

#: epsilon of the RMS normalisations (RMSNorm layers and QK-norm), as LayerNorm's
NORM_EPS = 1e-5


def causal_mask(t: int, s: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(t, s) booleans for ``t`` queries that are the last ``t`` of ``s`` positions: query i
    (position s-t+i) may read keys 0 … s-t+i.  With t == s this is the lower triangle."""
    return torch.ones(t, s, dtype=torch.bool, device=device).tril(s - t)


def segment_mask(q_segments: torch.Tensor, k_segments: torch.Tensor) -> torch.Tensor:
    """(B, 1, t, s) booleans: causal as ``causal_mask``, and only within a segment.

    ``q_segments`` (B, t) and ``k_segments`` (B, s) are integer ids (a document in a packed
    window, or padding vs text); a query reads a key only when both ids agree, so the mask
    is block-diagonal causal.  Every query still reads itself, so no row is empty."""
    same = q_segments.unsqueeze(-1) == k_segments.unsqueeze(-2)
    return (same & causal_mask(q_segments.size(-1), k_segments.size(-1), q_segments.device)).unsqueeze(1)


def attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q kᵀ / √D) over the keys each query may read: (B, H, t, s), exact zeros where
    masked.  q (B, H, t, D) are the last t of the s positions of k (B, H, s, D); ``mask`` is
    a boolean (B or 1, 1, t, s) "may read" tensor, or None for plain causal attention."""
    allowed = causal_mask(q.size(-2), k.size(-2), q.device) if mask is None else mask
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    return_weights: bool = False,
):
    """Causal attention, the one implementation: softmax(q kᵀ / √D, masked) v -> (B, H, t, D).

    Shapes and ``mask`` as in ``attention_weights``.  The fast path is
    ``F.scaled_dot_product_attention`` (``is_causal`` when t == s; no mask at all for a single
    new query, which reads every cached key).  ``return_weights=True`` computes the weights
    explicitly and returns ``(y, weights)``; dropout applies to the weights used for y, the
    returned weights are those before dropout.  Dropout on a CPU takes the explicit path too,
    with the cheap masks of ``dropout.py`` (SDPA would draw them with ``bernoulli_``)."""
    t, s = q.size(-2), k.size(-2)
    if return_weights or (dropout_p and cheap_masks(q)):  # on a CPU, masks are cheaper outside SDPA
        weights = attention_weights(q, k, mask)
        y = dropout(weights, dropout_p) @ v
        return (y, weights) if return_weights else y
    if mask is None and t == s:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
    if mask is None and t == 1:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    if mask is None:
        mask = causal_mask(t, s, q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where a position only sees earlier positions (and itself).

    ``forward(x, kv_cache=None, return_weights=False, *, positions=None, mask=None)``:
    x (B, T, C) -> (B, T, C), or ``(y, weights)`` with the (B, H, T, S) weights when asked.
    ``kv_cache`` is one layer's ``LayerKV``: the new keys and values are appended and the
    queries read all S cached positions.  ``positions`` (B or 1, T) are the tokens' position
    ids: with learned absolute positions they are added to the input by ``GPT`` and this
    module does not read them; with ``model.pos = "rope"`` q and k are rotated by them in
    ``project``.  ``mask``: see ``attention_weights`` (None = plain causal)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = lora.linear(cfg, "attn.c_attn", cfg.n_embd, 3 * cfg.n_embd, cfg.qkv_bias)  # fused q, k, v
        self.c_proj = lora.linear(cfg, "attn.c_proj", cfg.n_embd, cfg.n_embd, cfg.bias)
        self.dropout = cfg.attention_dropout  # on the attention weights
        self.resid_dropout = Dropout(cfg.dropout)
        self.qk_norm = cfg.qk_norm
        self.rotary = Rotary(cfg.n_embd // cfg.n_head, cfg.block_size, cfg.rope_base) if cfg.pos == "rope" else None

    def project(self, x: torch.Tensor, positions: torch.Tensor | None = None):
        """q, k, v, each (B, H, T, C/H), of the input (B, T, C).  The one place where q and k are
        made: with ``qk_norm`` each head's query and key row is scaled to unit RMS (no learned
        gain), then with rotary embeddings both are rotated by ``positions`` (None: 0 … T-1);
        with learned absolute positions ``positions`` is not read."""
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in self.c_attn(x).split(C, dim=2))
        if self.qk_norm:
            q, k = F.rms_norm(q, (q.size(-1),), eps=NORM_EPS), F.rms_norm(k, (k.size(-1),), eps=NORM_EPS)
        if self.rotary is not None:
            q, k = self.rotary(q, positions), self.rotary(k, positions)
        return q, k, v

    def forward(
        self,
        x: torch.Tensor,
        kv_cache=None,
        return_weights: bool = False,
        *,
        positions: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ):
        B, T, C = x.shape
        q, k, v = self.project(x, positions)
        if kv_cache is not None:
            k, v = kv_cache.append(k, v)
        p = self.dropout if self.training else 0.0
        if return_weights:
            y, weights = attend(q, k, v, mask, p, return_weights=True)
        else:
            y = attend(q, k, v, mask, p)
        y = self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C)))
        return (y, weights) if return_weights else y

    def weights(
        self, x: torch.Tensor, *, positions: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The attention weights (B, H, T, T) that ``forward(x)`` uses, before dropout; computes
        nothing else and draws no random numbers (the diagnostics read them this way)."""
        q, k, _ = self.project(x, positions)
        return attention_weights(q, k, mask)


class ReLUSquared(nn.Module):
    """relu(x)²: zero for x ≤ 0, x² above (its slope 2·relu(x) grows with the input)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x).square()


def make_activation(name: str) -> nn.Module:
    """The MLP nonlinearity of ``model.activation``."""
    return {"gelu": lambda: nn.GELU(approximate="tanh"), "relu": nn.ReLU, "relu2": ReLUSquared}[name]()


def make_norm(cfg: ModelConfig) -> nn.Module:
    """The normalisation of ``model.norm``: LayerNorm (gain, and a bias when ``model.bias``) or
    RMSNorm (x / sqrt(mean(x²) + eps) · gain: no centring and no bias)."""
    if cfg.norm == "rmsnorm":
        return nn.RMSNorm(cfg.n_embd, eps=NORM_EPS)
    return nn.LayerNorm(cfg.n_embd, eps=NORM_EPS, bias=cfg.bias)


def soft_cap(logits: torch.Tensor, cap: float) -> torch.Tensor:
    """cap · tanh(logits / cap): every logit strictly inside (-cap, cap), and nearly unchanged
    while |logit| ≪ cap (the relative change is about (logit/cap)²/3).  ``cap`` 0: unchanged."""
    return cap * torch.tanh(logits / cap) if cap > 0 else logits


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.c_fc = lora.linear(cfg, "mlp.c_fc", cfg.n_embd, cfg.ffn_width, cfg.bias)
        self.act = make_activation(cfg.activation)
        self.c_proj = lora.linear(cfg, "mlp.c_proj", cfg.ffn_width, cfg.n_embd, cfg.bias)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln_1 = make_norm(cfg)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = make_norm(cfg)
        self.mlp = FeedForward(cfg)

    def forward(
        self,
        x: torch.Tensor,
        kv_cache=None,
        return_weights: bool = False,
        *,
        positions: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ):
        """x (B, T, C) -> (B, T, C), or ``(x, attention weights)``; arguments as in the attention."""
        a = self.attn(self.ln_1(x), kv_cache=kv_cache, return_weights=return_weights, positions=positions, mask=mask)
        a, weights = a if return_weights else (a, None)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return (x, weights) if return_weights else x


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.vocab_size <= 0:
            raise GlassError("the model's vocab_size must be set from the tokenizer before building a GPT.")
        self.config = cfg
        layers = dict(wte=lora.embedding(cfg))  # with LoRA, the added tokens' rows train (lora.row_shapes)
        if cfg.pos == "learned":  # with rotary embeddings there is no position table
            layers["wpe"] = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.transformer = nn.ModuleDict(
            dict(
                **layers,
                drop=Dropout(cfg.dropout),
                h=nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer)),
                ln_f=make_norm(cfg),
            )
        )
        tied_to = self.transformer["wte"] if cfg.tie_weights else None
        self.lm_head = lora.head(cfg, bias=cfg.head_bias and not cfg.tie_weights, tied_to=tied_to)
        if cfg.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight
        if cfg.reward_head:  # a reward model: one number from the last position's state
            self.score = nn.Linear(cfg.n_embd, 1)
        self.reset_parameters()
        if cfg.lora_rank:
            lora.freeze_base(self)

    def reset_parameters(self) -> None:
        """GPT-2 initialisation: N(0, 0.02) weights, zero biases, and the two residual
        projections of each block scaled by 1/√(2·n_layer) so the residual stream's
        variance does not grow with depth.  With ``model.zero_init_proj`` those projections
        start at exactly zero instead: every block then adds nothing at step 0, and the
        model is the embeddings, the final norm and the head.  LoRA adapters: A random, B zero
        (``lora.init_adapter``), so the adapted model starts as the model itself."""
        for name, p in self.named_parameters():
            if lora.is_adapter(name):
                lora.init_adapter(name, p)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 1:  # LayerNorm / RMSNorm gains
                nn.init.ones_(p)
            elif name.endswith("c_proj.weight") and self.config.zero_init_proj:
                nn.init.zeros_(p)
            elif name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * self.config.n_layer))
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
        *,
        positions: torch.Tensor | None = None,
        segments: torch.Tensor | None = None,
        last_only: bool = False,
    ):
        """idx (B, T) int64 -> (logits (B, T, V), loss); loss = mean cross-entropy over
        targets != -1 (None without targets).

        ``kv_cache``: run ``idx`` as the next T positions after those cached (see
        ``new_kv_cache``); the cache is extended by T.  ``positions`` (B or 1, T): position
        ids, by default the cache's length + 0 … T-1 (each row of a left-padded batch passes
        its own, starting at 0 with its first real token).  ``segments`` (B, T): integer ids;
        a token attends only to earlier tokens with the same id (documents packed in one
        window, or padding vs text); None means one segment.  ``last_only``: logits of the
        last position only, (B, 1, V) — all generation needs."""
        x, _ = self._trunk(idx, kv_cache, positions, segments, return_weights=False)
        logits = self.lm_head(x[:, -1:] if last_only else x)
        if self.config.padded_vocab_size != self.config.vocab_size:
            logits = logits[..., : self.config.vocab_size]  # padded rows exist for speed only
        logits = soft_cap(logits, self.config.logit_softcap)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def rewards(self, idx: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """A reward model's scores (B,): the scalar head on the state at position ``ends[b]`` of
        each row of ``idx`` (B, T) (the reward readout token; right padding after it is never read)."""
        x, _ = self._trunk(idx, None, None, None, return_weights=False)
        return self.score(x[torch.arange(idx.size(0), device=idx.device), ends]).squeeze(-1)

    def attention_maps(
        self, idx: torch.Tensor, *, positions: torch.Tensor | None = None, segments: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """The attention weights of every layer for the tokens ``idx`` (B, T): a list of
        n_layer tensors (B, H, T, T), row t = how much query t reads each key (rows sum to
        1, zeros above the diagonal).  The same forward pass as ``forward``, on the path that
        computes the weights explicitly; call it under ``torch.no_grad()`` to only look."""
        return self._trunk(idx, None, positions, segments, return_weights=True)[1]

    def new_kv_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty ``KVCache`` for ``batch_size`` rows and ``max_len`` positions (at most, and
        by default, the block size), on the model's device, in its dtype."""
        cfg, w = self.config, self.transformer.wte.weight
        length = min(max_len or cfg.block_size, cfg.block_size)
        return KVCache(cfg.n_layer, batch_size, cfg.n_head, cfg.n_embd // cfg.n_head, length, w.device, w.dtype)

    def _trunk(
        self,
        idx: torch.Tensor,
        kv_cache: KVCache | None,
        positions: torch.Tensor | None,
        segments: torch.Tensor | None,
        return_weights: bool,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Embeddings, the blocks and the final LayerNorm: (B, T, C), and the per-layer
        weights when ``return_weights``.  The attention mask is built once, for all layers."""
        B, T = idx.shape
        start = 0 if kv_cache is None else kv_cache.length
        if start + T > self.config.block_size:
            raise GlassError(
                f"a sequence of {start + T} tokens is longer than the model's context of {self.config.block_size}."
            )
        mask = None
        if kv_cache is not None:
            kv_cache.check_room(B, T)
            pair = kv_cache.add_segments(segments, T)
            if pair is not None:
                mask = segment_mask(*pair)
        elif segments is not None:
            mask = segment_mask(segments, segments)
        if positions is None:
            positions = torch.arange(start, start + T, device=idx.device)
        x = self.transformer.wte(idx)
        if "wpe" in self.transformer:  # learned positions; rotary ones are applied to q and k
            x = x + self.transformer.wpe(positions)
        x = self.transformer.drop(x)
        weights = []
        for i, block in enumerate(self.transformer.h):
            layer_cache = None if kv_cache is None else kv_cache.layers[i]
            if return_weights:
                x, w = block(x, layer_cache, True, positions=positions, mask=mask)
                weights.append(w)
            else:
                x = block(x, layer_cache, positions=positions, mask=mask)
        if kv_cache is not None:
            kv_cache.advance(T)
        return self.transformer.ln_f(x), weights

    # ---- weights in and out (safetensors-friendly: no shared tensors) -------------------
    def weights(self) -> dict[str, torch.Tensor]:
        """The state dict without the tied duplicates of the embedding (Hugging Face omits it too)."""
        sd = self.state_dict()
        if self.config.tie_weights:
            sd.pop("lm_head.weight", None)
            sd.pop(lora.TIED_ROWS, None)
        return sd

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load ``weights()``-style tensors, with one clear error for any mismatch."""
        check_weights({name: t.shape for name, t in self.weights().items()}, tensors)
        self.load_state_dict(tensors, strict=False)

    def num_params(self) -> int:
        """Number of distinct parameters (a tied matrix counts once)."""
        return sum(p.numel() for p in self.parameters())

    def param_table(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(name, shape, count) for every distinct parameter, in definition order."""
        return [(n, tuple(p.shape), p.numel()) for n, p in self.named_parameters()]
