"""Generation: temperature, top-k, top-p (nucleus), stop tokens/strings, and a KV cache.

The model runs in eval mode.  Until the context fills the model's block size each new
token costs one position's work (keys and values of earlier positions are cached);
after that the context is cropped to the last ``block_size`` tokens and recomputed,
exactly as without a cache — the cache changes speed, never results.

A model trained on sequences shorter than its block size (the ``poem`` preset trains
windows of 64 in a context of 128) never learned the later position embeddings, so the
context is cropped to the trained length: ``max_context``, else the model's
``trained_context`` attribute (``glassgpt.load`` sets it from the run's configuration).
"""

from __future__ import annotations

import math
import os
from typing import Callable

import torch
import torch.nn.functional as F

from .config import check_seed
from .errors import GlassError
from .models.footprint import inference_bytes, require_fits
from .tokenizers import Tokenizer


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Scale by temperature, keep the ``top_k`` largest and the smallest set whose
    probability reaches ``top_p``; everything else becomes -inf.  logits: (N, V)."""
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass of strictly more likely tokens
        sorted_logits = sorted_logits.masked_fill(before >= top_p, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def _attend(block, x: torch.Tensor, cache: dict | None, start: int) -> tuple[torch.Tensor, dict]:
    """One block on new positions ``x`` (B, t, C), appending their keys/values to ``cache``."""
    attn = block.attn
    B, t, C = x.shape
    h = block.ln_1(x)
    q, k, v = attn.c_attn(h).split(C, dim=2)
    q, k, v = (z.view(B, t, attn.n_head, C // attn.n_head).transpose(1, 2) for z in (q, k, v))
    if cache is not None:
        k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
    # new query i (absolute position start+i) may see keys 0..start+i
    mask = torch.ones(t, start + t, dtype=torch.bool, device=x.device).tril(diagonal=start)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    x = x + attn.c_proj(y.transpose(1, 2).reshape(B, t, C))
    x = x + block.mlp(block.ln_2(x))
    return x, {"k": k, "v": v}


def _forward_cached(model, idx: torch.Tensor, caches: list | None) -> tuple[torch.Tensor, list]:
    """Logits of the last position for new tokens ``idx`` (B, t) after ``caches``."""
    start = 0 if caches is None else caches[0]["k"].size(2)
    tr = model.transformer
    pos = torch.arange(start, start + idx.size(1), device=idx.device)
    x = tr.wte(idx) + tr.wpe(pos)
    new = []
    for i, block in enumerate(tr.h):
        x, c = _attend(block, x, None if caches is None else caches[i], start)
        new.append(c)
    logits = model.lm_head(tr.ln_f(x[:, -1:, :]))[:, -1, : model.config.vocab_size]
    return logits, new


@torch.no_grad()
def generate(model, prompt_ids: list[int], max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, num_samples: int = 1,
             seed: int | None = None, stop_ids: tuple[int, ...] = (), use_cache: bool = True,
             max_context: int | None = None, on_token: Callable[[], None] | None = None) -> list[list[int]]:
    """Sample ``num_samples`` continuations of ``prompt_ids``; returns the new ids of each.

    ``temperature=0`` is greedy decoding.  A sequence ends early at any id in ``stop_ids``
    (the stop id is kept).  ``seed`` makes sampling reproducible without touching the
    global random state.  ``on_token()`` is called after each generated position (progress)."""
    if not prompt_ids:
        raise GlassError("the prompt is empty; give at least one token to start from.")
    check_sampling(max_new_tokens, temperature, top_k, top_p, num_samples, seed)
    device = next(model.parameters()).device
    require_fits(inference_bytes(model.config, num_samples, len(prompt_ids), max_new_tokens), device,
                 f"sampling {num_samples:,} × {max_new_tokens:,} tokens", "ask for fewer samples or tokens")
    was_training = model.training
    model.eval()
    gen = torch.Generator(device=device)
    gen.manual_seed(seed if seed is not None else int.from_bytes(os.urandom(8), "little") >> 1)
    block = min(max_context or getattr(model, "trained_context", None) or model.config.block_size,
                model.config.block_size)
    seqs = torch.tensor([prompt_ids] * num_samples, dtype=torch.long, device=device)
    out = torch.empty(num_samples, 0, dtype=torch.long, device=device)
    done = torch.zeros(num_samples, dtype=torch.bool, device=device)
    caches = None
    try:
        for _ in range(max_new_tokens):
            if use_cache and seqs.size(1) <= block:
                fresh = seqs if caches is None else seqs[:, -1:]
                logits, caches = _forward_cached(model, fresh, caches)
            else:
                caches = None
                logits = model(seqs[:, -block:])[0][:, -1, :]
            if temperature == 0:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                probs = filter_logits(logits.float(), temperature, top_k, top_p).softmax(-1)
                nxt = torch.multinomial(probs, 1, generator=gen)
            seqs = torch.cat([seqs, nxt], dim=1)
            out = torch.cat([out, nxt], dim=1)
            if on_token is not None:
                on_token()
            if stop_ids:
                done |= torch.isin(nxt.squeeze(1), torch.tensor(stop_ids, device=device))
                if bool(done.all()):
                    break
    finally:
        model.train(was_training)
    result = []
    for row in out.tolist():
        for j, tok in enumerate(row):
            if tok in stop_ids:
                row = row[: j + 1]
                break
        result.append(row)
    return result


def check_sampling(max_new_tokens: int = 0, temperature: float = 1.0, top_k: int | None = None,
                   top_p: float | None = None, num_samples: int = 1, seed: int | None = None) -> None:
    """Refuse impossible sampling settings, one sentence naming the value."""
    if max_new_tokens < 0:
        raise GlassError(f"max_new_tokens must be 0 or more, got {max_new_tokens}.")
    if num_samples < 1:
        raise GlassError(f"num_samples must be at least 1, got {num_samples}.")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise GlassError(f"temperature must be a finite number, 0 or more (0 is greedy), got {temperature}.")
    if top_k is not None and top_k < 1:
        raise GlassError(f"top_k must be at least 1, got {top_k}.")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise GlassError(f"top_p must be in (0, 1], got {top_p}.")
    check_seed(seed, "the sampling seed")


def default_prompt_ids(tokenizer: Tokenizer) -> list[int]:
    """A neutral start: a newline (or the end-of-line word) when the vocabulary has one, else id 0."""
    for probe in ("\n", "<END>", "<|endoftext|>"):
        try:
            ids = tokenizer.encode(probe) if probe == "\n" else [tokenizer.special_tokens[probe]]
            if len(ids) == 1:
                return ids
        except Exception:
            continue
    return [0]


def cut_at_stop(text: str, stops: list[str]) -> str:
    """Text up to (not including) the first occurrence of any stop string."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


def sample_text(model, tokenizer, prompt: str = "", max_new_tokens: int = 200, temperature: float = 1.0,
                top_k: int | None = None, top_p: float | None = None, num_samples: int = 1,
                seed: int | None = None, stop: list[str] | None = None,
                on_token: Callable[[], None] | None = None) -> list[str]:
    """Text in, text out: the prompt followed by each sampled continuation.

    An empty prompt starts from a neutral token (a newline where the vocabulary has one).
    ``stop`` strings cut the continuation before their first occurrence; a stop string
    that is a single token also ends generation early.  ``on_token`` as in ``generate``."""
    check_sampling(max_new_tokens, temperature, top_k, top_p, num_samples, seed)
    ids = tokenizer.encode(prompt) if prompt else default_prompt_ids(tokenizer)
    stop_ids = []
    for s in stop or []:
        try:
            enc = tokenizer.encode(s)
        except GlassError:
            continue
        if len(enc) == 1:
            stop_ids.append(enc[0])
    outs = generate(model, ids, max_new_tokens, temperature, top_k, top_p, num_samples, seed, tuple(stop_ids),
                    on_token=on_token)
    start = tokenizer.decode(ids) if prompt else ""
    results = []
    for new in outs:
        text = tokenizer.decode(ids + new)[len(tokenizer.decode(ids)):]
        results.append((prompt if prompt else start) + (cut_at_stop(text, stop) if stop else text))
    return results
