"""Inside the nursery-rhyme GPT: its parameters, the causal mask, and one head's attention (docs/curriculum.md, B4).

The word-level GPT of docs/curriculum.md, B2 (context 6, width 32, 2 layers of 2 heads, FFN 128)
is built from the ``nursery`` preset, its 27,747 parameters are counted component by
component, and after a short training run the attention weights of one head are
computed BY HAND from the model's own parameters:

    x      = wte[ids] + wpe[positions]
    q, k   = split(ln_1(x) @ c_attn.weight^T)          (one 16-wide slice per head)
    scores = q k^T / sqrt(16) + mask                    (mask: 0 on and below the diagonal, -inf above)
    A      = softmax(scores) row by row                 (row t: how much position t reads each s <= t)

The check that these are the model's real weights: carrying the hand computation on
(A @ v, c_proj, residual, MLP) reproduces the output of every block of the model.
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch

from glassgpt.config import resolve
from glassgpt.data.corpora import load_corpus
from glassgpt.data.loader import BatchLoader
from glassgpt.demos._show import heading, new_figure, one_torch_thread, save_figure, say, table
from glassgpt.tokenizers import WordTokenizer
from glassgpt.training.engines import TorchEngine

NAME = "attention"
SUMMARY = "the nursery-rhyme GPT: parameter count by component, causal mask, one head's attention on 'mary had a' (B4)"

PRESET = "nursery"
PROMPT = "mary had a"
LAYER, HEAD = 0, 0
TRAIN_STEPS = 500


def build(steps: int = TRAIN_STEPS):
    """(model, tokenizer, token ids, [loss at each step], RunConfig): the nursery GPT after ``steps`` AdamW steps."""
    text = load_corpus("nursery")
    tokenizer = WordTokenizer.train(text)
    ids = np.array(tokenizer.encode(text), dtype=np.int64)
    cfg = resolve(PRESET, overrides={"model.vocab_size": tokenizer.vocab_size, "train.device": "cpu"})
    seq = cfg.train.seq_len or cfg.model.block_size
    with one_torch_thread():
        engine = TorchEngine(cfg)
        loader = BatchLoader(ids, seq, cfg.train.seed)
        losses = [engine.train_step([loader.next(cfg.train.batch_size)], cfg.train.lr).loss for _ in range(steps)]
    model = engine.model.eval()
    return model, tokenizer, ids, losses, cfg


def count_by_component(model) -> list[tuple[str, list[str], int, int]]:
    """(component, [tensor shapes], parameters per layer, number of layers), in model order.

    Per-block tensors ``transformer.h.<i>.<rest>`` are grouped by ``<rest>`` minus the final
    ``.weight``/``.bias``; everything else by its module name.
    """
    groups: dict[str, dict] = {}
    for name, p in model.named_parameters():
        m = re.match(r"transformer\.h\.(\d+)\.(.+)\.(weight|bias)$", name)
        if m:
            key, layer = f"h.*.{m.group(2)}", int(m.group(1))
        else:
            key, layer = re.sub(r"^transformer\.|\.(weight|bias)$", "", name), -1
        g = groups.setdefault(key, {"shapes": {}, "count": 0, "layers": set()})
        g["layers"].add(layer)
        g["count"] += p.numel()
        g["shapes"].setdefault(name.rsplit(".", 1)[1], tuple(p.shape))
    out = []
    for key, g in groups.items():
        n_layers = len(g["layers"])
        shapes = [f"{kind} {'x'.join(map(str, s))}" for kind, s in g["shapes"].items()]
        out.append((key, shapes, g["count"] // n_layers, n_layers))
    return out


def causal_mask(t: int) -> np.ndarray:
    """(t, t) booleans: True where query position (row) may read key position (column)."""
    return np.tril(np.ones((t, t), dtype=bool))


def by_hand(model, ids: list[int]) -> dict:
    """A manual forward pass in float64 NumPy from the model's parameters.

    Returns the attention weights of every layer, (n_layer, n_head, T, T), and the output of
    every block, (n_layer, T, C) - the latter to compare with the model's own blocks.
    """
    P = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    cfg = model.config
    H, C = cfg.n_head, cfg.n_embd
    D = C // H
    T = len(ids)
    x = P["transformer.wte.weight"][ids] + P["transformer.wpe.weight"][:T]
    additive = np.where(causal_mask(T), 0.0, -np.inf)
    weights, outputs = [], []
    for i in range(cfg.n_layer):
        pre = f"transformer.h.{i}."
        qkv = _linear(_layernorm(x, P, pre + "ln_1"), P, pre + "attn.c_attn")
        q, k, v = (qkv[:, j * C : (j + 1) * C].reshape(T, H, D).transpose(1, 0, 2) for j in range(3))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(D) + additive
        a = np.exp(scores - scores.max(axis=-1, keepdims=True))
        a /= a.sum(axis=-1, keepdims=True)
        y = (a @ v).transpose(1, 0, 2).reshape(T, C)
        x = x + _linear(y, P, pre + "attn.c_proj")
        hidden = _linear(_layernorm(x, P, pre + "ln_2"), P, pre + "mlp.c_fc")
        hidden = np.maximum(hidden, 0.0) if cfg.activation == "relu" else _gelu_tanh(hidden)
        x = x + _linear(hidden, P, pre + "mlp.c_proj")
        weights.append(a)
        outputs.append(x)
    return {"weights": np.stack(weights), "block_outputs": np.stack(outputs)}


def _linear(x, P, name):
    y = x @ P[name + ".weight"].T
    return y + P[name + ".bias"] if name + ".bias" in P else y


def _layernorm(x, P, name, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps) * P[name + ".weight"]
    return y + P[name + ".bias"] if name + ".bias" in P else y


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def model_block_outputs(model, ids: list[int]):
    """(n_layer, T, C) outputs of the model's blocks (forward hooks), the model's own attention
    weights (n_layer, n_head, T, T) from ``model.attention_maps``, and the logits (T, V)."""
    outs = []
    hooks = [
        block.register_forward_hook(lambda mod, inp, out: outs.append(out[0].detach().double().numpy()))
        for block in model.transformer.h
    ]
    idx = torch.tensor([ids])
    try:
        with torch.no_grad():
            logits, _ = model(idx)
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        recorded = np.stack([w[0].double().numpy() for w in model.attention_maps(idx)])
    return np.stack(outs), recorded, logits[0].double().numpy()


def run(plot: bool = False, out_dir: str = ".") -> dict:
    heading("B4  Inside the nursery-rhyme GPT: parameters, causal mask, attention")
    model, tokenizer, ids, losses, run_cfg = build()
    cfg = model.config
    say(
        f"corpus: 'Mary had a little lamb', {len(ids)} word tokens, vocabulary {tokenizer.vocab_size} "
        f"(sorted, <END> first); preset '{PRESET}': context {cfg.block_size}, width {cfg.n_embd}, "
        f"{cfg.n_layer} layers x {cfg.n_head} heads of {cfg.n_embd // cfg.n_head}, FFN {cfg.ffn_width} ({cfg.activation})."
    )

    # ---- parameters
    parts = count_by_component(model)
    total = sum(per * n for _, _, per, n in parts)
    table(
        ["component", "tensors", "per layer", "layers", "parameters"],
        [
            [key, ", ".join(shapes), f"{per:,}", n if key.startswith("h.*") else "", f"{per * n:,}"]
            for key, shapes, per, n in parts
        ]
        + [["total", "", "", "", f"{total:,}"]],
        title="Parameters by component (Hugging Face GPT-2 names; h.* = each transformer block)",
        align="llrrr",
    )
    say(f"model.num_params() = {model.num_params():,}")

    # ---- the causal mask
    T = cfg.block_size
    mask = causal_mask(T)
    table(
        ["query \\ key"] + [str(s) for s in range(T)],
        [[t] + ["0" if mask[t, s] else "-inf" for s in range(T)] for t in range(T)],
        title=f"Causal mask for context {T}: added to the scores before softmax (row t may read keys s <= t)",
        align="r" * (T + 1),
    )

    # ---- one head on "mary had a"
    say()
    say(
        f"Trained {len(losses)} AdamW steps (lr {run_cfg.train.lr:g}, batch {run_cfg.train.batch_size}, "
        f"weight decay {run_cfg.train.weight_decay:g}): loss {losses[0]:.3f} -> "
        f"{np.mean(losses[-50:]):.3f} (mean of the last 50); uniform guessing is ln {tokenizer.vocab_size} = "
        f"{math.log(tokenizer.vocab_size):.3f}."
    )
    prompt_ids = tokenizer.encode(PROMPT)
    words = PROMPT.split()
    hand = by_hand(model, prompt_ids)
    a = hand["weights"][LAYER, HEAD]
    table(
        ["query \\ key"] + words,
        [[w] + [f"{a[t, s]:.4f}" if s <= t else "." for s in range(len(words))] for t, w in enumerate(words)],
        title=f"Attention weights, layer {LAYER} head {HEAD}, on '{PROMPT}' (each row sums to 1)",
        align="l" + "r" * len(words),
    )
    model_out, recorded, logits = model_block_outputs(model, prompt_ids)
    block_diff = float(np.abs(model_out - hand["block_outputs"]).max())
    rec_diff = float(np.abs(recorded - hand["weights"]).max())
    say(
        f"check: the hand-computed blocks reproduce the model's block outputs to {block_diff:.1e}; "
        f"the model's own attention weights agree to {rec_diff:.1e}."
    )
    p = np.exp(logits[-1] - logits[-1].max())
    p /= p.sum()
    top = np.argsort(-p)[:3]
    say(f"next word after '{PROMPT}': " + ", ".join(f"{tokenizer.token_str(int(i))} {p[i]:.3f}" for i in top))

    result = {
        "n_tokens": len(ids),
        "vocab_size": tokenizer.vocab_size,
        "components": {key: per * n for key, _, per, n in parts},
        "per_layer": {key: per for key, _, per, _ in parts},
        "total_params": total,
        "num_params": model.num_params(),
        "mask": mask.tolist(),
        "losses": losses,
        "prompt_ids": prompt_ids,
        "weights": a.tolist(),
        "all_weights": hand["weights"].tolist(),
        "block_output_diff": block_diff,
        "recorded_attention_diff": rec_diff,
        "next_word": tokenizer.token_str(int(top[0])),
    }
    if plot:
        result["figure"] = _plot(mask, hand["weights"], words, out_dir)
    return result


def _plot(mask, weights, words, out_dir) -> str:
    n_layer, n_head = weights.shape[:2]
    plt, fig, axes = new_figure(1, 1 + n_layer * n_head, figsize=(3.4 * (1 + n_layer * n_head), 3.6))
    axes[0].imshow(mask, cmap="Greys_r", vmin=0, vmax=1)
    axes[0].set(title=f"causal mask ({len(mask)}x{len(mask)})", xlabel="key position", ylabel="query position")
    for i, ax in enumerate(axes[1:]):
        layer, head = divmod(i, n_head)
        w = np.where(causal_mask(len(words)), weights[layer, head], np.nan)
        ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
        for t in range(len(words)):
            for s in range(t + 1):
                ax.text(
                    s,
                    t,
                    f"{weights[layer, head, t, s]:.2f}",
                    ha="center",
                    va="center",
                    color="black" if weights[layer, head, t, s] > 0.5 else "white",
                )
        ax.set_xticks(range(len(words)), words)
        ax.set_yticks(range(len(words)), words)
        ax.set_title(f"layer {layer} head {head}")
    return save_figure(fig, out_dir, NAME)
