"""How much memory a GPT needs, estimated from its configuration before anything is allocated.

A setting such as ``model.n_embd=100000`` asks for 120 GB of weights; ``--batch-size
100000000`` asks for terabytes of activations.  Allocating first and failing later costs
minutes, a traceback, or a machine that swaps itself to a halt.  These estimates are
cheap arithmetic on the configuration; ``require_fits`` compares one with the memory of the
device (``glassgpt.device.memory_of``) and refuses, naming both numbers, what cannot fit.

The estimates aim at the right order of magnitude, on the low side: they count the
tensors that must exist at once and ignore allocator overheads, so a refusal is certain
and a run that is accepted may still be tight.

Shapes: B batch, T sequence length, C width, F MLP width, H heads, L layers, V padded vocabulary.
"""

from __future__ import annotations

import torch

from glassgpt.config import ModelConfig, RunConfig
from glassgpt.device import memory_of
from glassgpt.errors import ConfigError
from glassgpt.models.lora import adapter_count

FLOAT32 = 4


def ladder_levels(m: ModelConfig) -> list[int]:
    """Fan-in of every hidden Linear of a ladder model (none for the bigrams; one for the MLP;
    one per FlattenConsecutive level for the WaveNet)."""
    if m.arch == "mlp":
        return [m.block_size * m.n_embd]
    if m.arch != "wavenet":
        return []
    fans, size, width = [], 1, m.n_embd
    while size < m.block_size or not fans:
        n = min(m.group, m.block_size)
        fans.append(width * n)
        size, width = size * max(n, 2), m.n_hidden
    return fans


def ladder_parameter_count(m: ModelConfig) -> int:
    """Parameters of a ladder model (the bigram's V×V counts included), by arithmetic."""
    V, H = m.vocab_size, m.n_hidden
    if m.arch in ("bigram", "neural-bigram"):
        return V * V
    per_layer = H * (2 if m.batchnorm else 1)  # BatchNorm's gain and shift replace the bias
    return V * m.n_embd + sum(fan * H + per_layer for fan in ladder_levels(m)) + H * V + V


def parameter_count(m: ModelConfig) -> int:
    """Distinct parameters of the model ``m`` describes (a tied head counts once)."""
    if m.arch != "gpt":
        return ladder_parameter_count(m)
    C, F, V = m.n_embd, m.ffn_width, m.padded_vocab_size
    norm = C * (2 if m.bias else 1)
    block = (
        2 * norm
        + C * 3 * C
        + (3 * C if m.qkv_bias else 0)
        + C * C
        + (C if m.bias else 0)
        + C * F
        + (F if m.bias else 0)
        + F * C
        + (C if m.bias else 0)
    )
    head = 0 if m.tie_weights else V * C + (V if m.head_bias else 0)
    positions = m.block_size * C if m.pos == "learned" else 0  # rotary positions have no table
    score = C + 1 if m.reward_head else 0  # a reward model's scalar head
    return m.ensemble * (V * C + positions + m.n_layer * block + norm + head) + score + adapter_count(m)


def trainable_count(m: ModelConfig) -> int:
    """Parameters the optimizer updates: the adapters alone with LoRA, else all of them."""
    return adapter_count(m) if m.lora_rank else parameter_count(m)


def activation_floats(m: ModelConfig, batch: int, seq_len: int, attention_maps: bool = False) -> int:
    """Floats kept for the backward pass of one forward on ``batch`` × ``seq_len`` tokens:
    per layer about 12 C + 2 F per token (norms, q/k/v, attention output, MLP), the
    (B, H, T, T) attention weights when they are materialised, and the logits with their
    softmax and gradient."""
    if m.arch != "gpt":  # one target per row: the embedded window, each level (pre-norm, norm, tanh), the logits
        positions, hidden = m.block_size, 0
        for _ in ladder_levels(m):
            positions = max(1, positions // m.group) if m.arch == "wavenet" else 1
            hidden += 3 * m.n_hidden * positions
        return batch * (m.block_size * m.n_embd + hidden + 3 * m.vocab_size)
    tokens = batch * seq_len  # an ensemble deals a training batch's rows out between its members
    per_layer = 12 * m.n_embd + 2 * m.ffn_width + (2 * m.n_head * seq_len if attention_maps else 0)
    return tokens * (m.n_layer * per_layer + 3 * m.padded_vocab_size + 2 * m.n_embd)


def training_bytes(cfg: RunConfig, seq_len: int | None = None) -> dict[str, int]:
    """Bytes a training run holds at once: ``{"state", "activations", "batches", "total"}``.

    state: weights + gradients + AdamW's two moments (16 bytes per parameter);
    activations: one micro-batch's forward pass (the glass engine keeps its attention
    maps; bfloat16 autocast halves the activations); batches: the int64 token windows of a
    step and the fixed validation batches."""
    m, t = cfg.model, cfg.train
    T = seq_len or t.seq_len or m.block_size
    state = 4 * FLOAT32 * parameter_count(m)
    acts = FLOAT32 * activation_floats(m, t.batch_size, T, attention_maps=t.engine == "glass")
    if t.dtype == "bfloat16":
        acts //= 2
    batches = 2 * 8 * (T + 1) * t.batch_size * (t.grad_accum + t.eval_batches)
    return {"state": state, "activations": acts, "batches": batches, "total": state + acts + batches}


def inference_bytes(
    m: ModelConfig, batch: int, seq_len: int, new_tokens: int = 0, bytes_per_float: int = FLOAT32
) -> int:
    """Bytes to run ``batch`` sequences through the model without gradients: the weights,
    one layer's working set plus the logits, and for generation the key/value cache and the
    growing token sequences (``new_tokens`` more per sequence)."""
    if m.arch != "gpt":
        return FLOAT32 * (parameter_count(m) + activation_floats(m, batch, m.block_size)) + 16 * batch * seq_len
    T = min(seq_len + new_tokens, m.block_size) if new_tokens else seq_len
    weights = bytes_per_float * parameter_count(m)
    working = bytes_per_float * batch * (T * (8 * m.n_embd + 2 * m.ffn_width) + 3 * m.padded_vocab_size)
    if not new_tokens:
        working += bytes_per_float * batch * T * 2 * m.padded_vocab_size  # logits of every position
    cache = bytes_per_float * batch * m.n_layer * 2 * T * m.n_embd if new_tokens else 0
    sequences = 2 * 8 * batch * (seq_len + new_tokens)
    return weights + working + cache + sequences


def size_text(n: float) -> str:
    """Bytes in words: 512 B, 12 MB, 1.9 TB (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 100 else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def require_fits(need: int, device: torch.device, what: str, advice: str) -> None:
    """Refuse with one sentence when ``need`` bytes exceed the memory of ``device`` (unknown
    memory is never refused): "WHAT needs about N of memory but this machine has M; ADVICE."."""
    available, has = memory_of(device)
    if available is not None and need > available:
        raise ConfigError(f"{what} needs about {size_text(need)} of memory but {has} {size_text(available)}; {advice}.")
