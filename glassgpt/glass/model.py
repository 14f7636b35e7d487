"""The GPT of ``glassgpt.models.gpt``, rebuilt in NumPy from the glass layers.

Same architecture (token + position embeddings, pre-norm blocks of causal self-attention
and an MLP, final LayerNorm, LM head), and EXACTLY the same parameter names and shapes
(Hugging Face GPT-2 names, ``(out, in)`` linear weights), held in a plain
``dict[str, np.ndarray]``.  So weights move both ways: ``GPT.from_torch(model)`` and
``gpt.to_torch()``, and a checkpoint written by either engine loads in the other.

``forward`` returns ``(logits, loss, cache)``; ``backward(cache)`` walks the same path in
reverse and returns a gradient for every parameter, under the parameter's name.  The
caches are named records (``GPTCache``, ``BlockCache``, ``MLPCache``) whose fields carry
the names of the layers they belong to.

Options beyond GPT-2 that the glass engine implements: RMSNorm (``model.norm``), ReLU²
(``model.activation``), soft-capped logits (``model.logit_softcap``, see ``options.py``),
bias-free layers, and zero-initialised projections (the engine copies torch's initial
weights).  Rotary embeddings and QK-norm are refused at config validation
(``glassgpt.config.validate.glass_refusal``).

Float32 by default (training), float64 for gradient checks.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from glassgpt.config import ModelConfig
from glassgpt.errors import GlassError
from glassgpt.glass.attention import SelfAttentionCache, self_attention_backward, self_attention_forward
from glassgpt.glass.cross_entropy import (
    CrossEntropyCache,
    cross_entropy_sum,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)
from glassgpt.glass.layers import (
    ACTIVATIONS,
    EmbeddingCache,
    LayerNormCache,
    LinearCache,
    PositionCache,
    dropout_backward,
    dropout_forward,
    embedding_backward,
    embedding_forward,
    layernorm_backward,
    layernorm_forward,
    linear_backward,
    linear_forward,
    position_embedding_backward,
    position_embedding_forward,
    residual_backward,
    residual_forward,
    tied_weight_backward,
)
from glassgpt.glass.options import (
    RMSNormCache,
    capped_head_backward,
    capped_head_forward,
    rmsnorm_backward,
    rmsnorm_forward,
)
from glassgpt.models import GPT as TorchGPT
from glassgpt.models.weights import check_weights

WTE, WPE = "transformer.wte.weight", "transformer.wpe.weight"
LNF = "transformer.ln_f."


def parameter_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter's name and shape, in the order of ``torch GPT.named_parameters()``
    (the tied LM head is not listed: it IS the token embedding)."""
    C, F, V = cfg.n_embd, cfg.ffn_width, cfg.padded_vocab_size
    shapes: dict[str, tuple[int, ...]] = {WTE: (V, C), WPE: (cfg.block_size, C)}

    def linear(name: str, n_out: int, n_in: int, bias: bool) -> None:
        shapes[name + ".weight"] = (n_out, n_in)
        if bias:
            shapes[name + ".bias"] = (n_out,)

    def layernorm(name: str) -> None:
        shapes[name + ".weight"] = (C,)
        if cfg.bias and cfg.norm == "layernorm":  # RMSNorm has a gain only
            shapes[name + ".bias"] = (C,)

    for i in range(cfg.n_layer):
        h = f"transformer.h.{i}."
        layernorm(h + "ln_1")
        linear(h + "attn.c_attn", 3 * C, C, cfg.qkv_bias)
        linear(h + "attn.c_proj", C, C, cfg.bias)
        layernorm(h + "ln_2")
        linear(h + "mlp.c_fc", F, C, cfg.bias)
        linear(h + "mlp.c_proj", C, F, cfg.bias)
    layernorm("transformer.ln_f")
    if not cfg.tie_weights:
        linear("lm_head", V, C, cfg.head_bias)
    return shapes


def init_params(cfg: ModelConfig, seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """GPT-2 initialisation in NumPy: N(0, 0.02) matrices, residual projections N(0, 0.02/sqrt(2 n_layer)),
    zero biases, unit LayerNorm gains.  (The engine copies torch's initial weights instead, so
    both engines start from the same numbers; this is for standalone use.)"""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in parameter_shapes(cfg).items():
        if name.endswith("bias"):
            params[name] = np.zeros(shape, dtype)
        elif len(shape) == 1:
            params[name] = np.ones(shape, dtype)
        else:
            std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith("c_proj.weight") else 0.02
            params[name] = rng.normal(0.0, std, size=shape).astype(dtype)
    return params


# ---------------------------------------------------------------------------------------
# The MLP and the block: compositions of the layer pairs
# ---------------------------------------------------------------------------------------


class MLPCache(NamedTuple):
    c_fc: LinearCache  # the projection up to the hidden width
    act: Any  # the activation's cache (its own record or array)
    c_proj: LinearCache  # the projection back down
    drop: np.ndarray | None  # the residual dropout mask, or None
    activation: str  # "gelu", "relu" or "tanh"


class BlockCache(NamedTuple):
    ln_1: LayerNormCache
    attn: SelfAttentionCache
    ln_2: LayerNormCache
    mlp: MLPCache


class GPTCache(NamedTuple):
    wte: EmbeddingCache  # token embedding lookup
    wpe: PositionCache  # position embedding
    drop: np.ndarray | None  # embedding dropout mask, or None
    blocks: list[BlockCache]  # one per layer, bottom first
    ln_f: LayerNormCache  # final LayerNorm
    lm_head: LinearCache  # the head (tied or not)
    loss: CrossEntropyCache | None  # None when forward had no targets
    logits_shape: tuple[int, int, int]


def norm_forward(kind: str, x, g, b=None):
    """``model.norm`` applied to x: "layernorm" (gain, optional bias) or "rmsnorm" (gain only)."""
    return rmsnorm_forward(x, g) if kind == "rmsnorm" else layernorm_forward(x, g, b)


def norm_backward(dy, cache):
    """The backward of whichever norm made ``cache``: (dx, dg, db or None)."""
    return rmsnorm_backward(dy, cache) if isinstance(cache, RMSNormCache) else layernorm_backward(dy, cache)


def mlp_forward(x, w_fc, b_fc, w_proj, b_proj, activation: str, p_drop: float, rng, training: bool):
    """x (B, T, C) -> (B, T, C): linear up to F, activation, linear down to C, dropout."""
    act_forward = ACTIVATIONS[activation][0]
    h, c_fc = linear_forward(x, w_fc, b_fc)
    a, c_act = act_forward(h)
    y, c_proj = linear_forward(a, w_proj, b_proj)
    y, drop = dropout_forward(y, p_drop, rng, training)
    return y, MLPCache(c_fc, c_act, c_proj, drop, activation)


def mlp_backward(dy, cache: MLPCache):
    """dy (B, T, C) -> (dx, dw_fc, db_fc, dw_proj, db_proj)."""
    da, dw_proj, db_proj = linear_backward(dropout_backward(dy, cache.drop), cache.c_proj)
    dh = ACTIVATIONS[cache.activation][1](da, cache.act)
    dx, dw_fc, db_fc = linear_backward(dh, cache.c_fc)
    return dx, dw_fc, db_fc, dw_proj, db_proj


def block_forward(x, P: dict, h: str, cfg: ModelConfig, rng, training: bool):
    """One pre-norm block, x (B, T, C) -> (B, T, C):  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))."""
    p = cfg.dropout if training else 0.0
    n1, c_ln1 = norm_forward(cfg.norm, x, P[h + "ln_1.weight"], P.get(h + "ln_1.bias"))
    a, c_attn = self_attention_forward(
        n1,
        P[h + "attn.c_attn.weight"],
        P.get(h + "attn.c_attn.bias"),
        P[h + "attn.c_proj.weight"],
        P.get(h + "attn.c_proj.bias"),
        cfg.n_head,
        p,
        rng,
        training,
    )
    x, _ = residual_forward(x, a)
    n2, c_ln2 = norm_forward(cfg.norm, x, P[h + "ln_2.weight"], P.get(h + "ln_2.bias"))
    m, c_mlp = mlp_forward(
        n2,
        P[h + "mlp.c_fc.weight"],
        P.get(h + "mlp.c_fc.bias"),
        P[h + "mlp.c_proj.weight"],
        P.get(h + "mlp.c_proj.bias"),
        cfg.activation,
        p,
        rng,
        training,
    )
    x, _ = residual_forward(x, m)
    return x, BlockCache(c_ln1, c_attn, c_ln2, c_mlp)


def _put(grads: dict, name: str, g) -> None:
    if g is not None:
        grads[name] = g


def block_backward(dx, cache: BlockCache, h: str, grads: dict):
    """dx (B, T, C) -> dx of the block input; parameter gradients go into ``grads`` by name.
    Each residual sends the gradient both ways: straight down the stream and into the branch."""
    d_stream, d_branch = residual_backward(dx)
    dn2, *g = mlp_backward(d_branch, cache.mlp)
    for name, gi in zip(("mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"), g):
        _put(grads, h + name, gi)
    dn, dg, db = norm_backward(dn2, cache.ln_2)
    _put(grads, h + "ln_2.weight", dg)
    _put(grads, h + "ln_2.bias", db)
    dx = d_stream + dn
    d_stream, d_branch = residual_backward(dx)
    dn1, *g = self_attention_backward(d_branch, cache.attn)
    for name, gi in zip(("attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias"), g):
        _put(grads, h + name, gi)
    dn, dg, db = norm_backward(dn1, cache.ln_1)
    _put(grads, h + "ln_1.weight", dg)
    _put(grads, h + "ln_1.bias", db)
    return d_stream + dn


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------


class GPT:
    """A NumPy GPT.  ``params`` maps the torch parameter names to arrays (updated in place by
    the optimizers)."""

    def __init__(self, cfg: ModelConfig, params: dict[str, np.ndarray] | None = None, dtype=np.float32, seed: int = 0):
        if cfg.vocab_size <= 0:
            raise GlassError("the model's vocab_size must be set from the tokenizer before building a GPT.")
        self.config = cfg
        self.dtype = np.dtype(dtype)
        self.shapes = parameter_shapes(cfg)
        self.params: dict[str, np.ndarray] = {}
        self.load_weights(params if params is not None else init_params(cfg, seed, self.dtype))

    # ---- weights in and out --------------------------------------------------------------
    def load_weights(self, arrays: dict) -> None:
        """Copy ``arrays`` (name -> array-like, e.g. numpy arrays or torch tensors) into the
        model, with one clear error for any mismatch."""
        check_weights(self.shapes, arrays)
        for name in self.shapes:
            a = arrays[name]
            a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
            self.params[name] = np.array(a, dtype=self.dtype, copy=True, order="C")

    def weights(self) -> dict[str, np.ndarray]:
        """The parameters by name (the arrays themselves, not copies)."""
        return self.params

    @classmethod
    def from_torch(cls, model, dtype=np.float32) -> GPT:
        """A glass GPT holding a copy of the torch GPT's weights."""
        return cls(model.config, dict(model.named_parameters()), dtype=dtype)

    def to_torch(self):
        """A torch GPT (float32, eval mode) holding a copy of these weights."""
        with torch.random.fork_rng(devices=[]):  # building one draws an init; keep the global RNG as it was
            model = TorchGPT(self.config)
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.from_numpy(self.params[name]))
        return model.eval()

    def num_params(self) -> int:
        return sum(a.size for a in self.params.values())

    def astype(self, dtype) -> GPT:
        return GPT(self.config, self.params, dtype=dtype)

    # ---- forward and backward -------------------------------------------------------------
    def _head(self):
        """LM head weight and bias restricted to the real vocabulary: padded rows exist for
        speed only, so the logits are sliced to vocab_size exactly like the torch model."""
        cfg, P = self.config, self.params
        V = cfg.vocab_size
        w = P[WTE] if cfg.tie_weights else P["lm_head.weight"]
        b = P.get("lm_head.bias")
        return w[:V], (b[:V] if b is not None else None)

    def forward(
        self,
        idx: np.ndarray,
        targets: np.ndarray | None = None,
        training: bool = False,
        rng: np.random.Generator | None = None,
    ):
        """idx (B, T) int -> (logits (B, T, vocab_size), mean loss over targets != -1 or None, cache).

        ``training`` turns dropout on (masks drawn from ``rng``)."""
        cfg, P = self.config, self.params
        B, T = idx.shape
        if T > cfg.block_size:
            raise GlassError(f"a sequence of {T} tokens is longer than the model's context of {cfg.block_size}.")
        if training and cfg.dropout > 0 and rng is None:
            raise ValueError("dropout in training needs an rng")
        p = cfg.dropout if training else 0.0
        tok, c_tok = embedding_forward(idx, P[WTE])
        pos, c_pos = position_embedding_forward(T, P[WPE])
        x, c_drop = dropout_forward(tok + pos, p, rng, training)
        c_blocks = []
        for i in range(cfg.n_layer):
            x, c = block_forward(x, P, f"transformer.h.{i}.", cfg, rng, training)
            c_blocks.append(c)
        x, c_lnf = norm_forward(cfg.norm, x, P[LNF + "weight"], P.get(LNF + "bias"))
        logits, c_head = capped_head_forward(x, *self._head(), cfg.logit_softcap)
        loss = c_loss = None
        if targets is not None:
            loss, c_loss = softmax_cross_entropy_forward(logits.reshape(B * T, -1), targets.reshape(-1))
        return logits, loss, GPTCache(c_tok, c_pos, c_drop, c_blocks, c_lnf, c_head, c_loss, logits.shape)

    def backward(self, cache: GPTCache, dloss: float = 1.0, dlogits: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Gradients of ``dloss * loss`` (or of sum(logits * dlogits) when ``dlogits`` is given)
        with respect to every parameter, by name."""
        cfg = self.config
        if dlogits is None:
            if cache.loss is None:
                raise ValueError("backward needs the loss: call forward with targets, or pass dlogits")
            dlogits = softmax_cross_entropy_backward(dloss, cache.loss).reshape(cache.logits_shape)
        grads: dict[str, np.ndarray] = {}
        dx, dw_head, db_head = capped_head_backward(dlogits, cache.lm_head)
        dw_head, db_head = self._pad_rows(dw_head), self._pad_rows(db_head)
        if not cfg.tie_weights:
            grads["lm_head.weight"] = dw_head
            _put(grads, "lm_head.bias", db_head)
        dx, dg, db = norm_backward(dx, cache.ln_f)
        _put(grads, LNF + "weight", dg)
        _put(grads, LNF + "bias", db)
        for i in reversed(range(cfg.n_layer)):
            dx = block_backward(dx, cache.blocks[i], f"transformer.h.{i}.", grads)
        dx = dropout_backward(dx, cache.drop)
        d_wte = embedding_backward(dx, cache.wte)
        grads[WTE] = tied_weight_backward(d_wte, dw_head) if cfg.tie_weights else d_wte
        grads[WPE] = position_embedding_backward(dx, cache.wpe)
        return {name: grads[name] for name in self.shapes}

    def _pad_rows(self, g: np.ndarray | None) -> np.ndarray | None:
        """Gradient of the full (padded) head from that of its first vocab_size rows: padded rows get zero."""
        V, Vp = self.config.vocab_size, self.config.padded_vocab_size
        if g is None or V == Vp:
            return g
        full = np.zeros((Vp, *g.shape[1:]), dtype=g.dtype)
        full[:V] = g
        return full

    def loss_and_grads(self, idx, targets, training: bool = False, rng=None, dloss: float = 1.0):
        """(loss, grads) of one batch."""
        _, loss, cache = self.forward(idx, targets, training, rng)
        return loss, self.backward(cache, dloss)

    def nll_sum(self, idx: np.ndarray, targets: np.ndarray) -> float:
        """Summed cross-entropy (nats) over every target, dropout off."""
        logits, _, _ = self.forward(idx)
        return cross_entropy_sum(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
