"""The one attention: explicit weights, masks (causal, segments), and the KV cache."""

import math

import pytest
import torch

from glassgpt.config import ModelConfig
from glassgpt.errors import GlassError
from glassgpt.models import GPT, KVCache
from glassgpt.models.gpt import attend, causal_mask, segment_mask


def model_for(block_size=16, n_layer=2, n_head=4, n_embd=32, vocab_size=40, seed=0, **kw) -> GPT:
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, **kw)
    return GPT(cfg).eval()


def by_hand_weights(model: GPT, idx: torch.Tensor) -> list[torch.Tensor]:
    """softmax(q kᵀ / √d) with -inf above the diagonal, in float64, layer by layer: the
    residual stream is carried on in float64 too, so every layer's q and k are independent
    of the model's own attention code."""
    m = model.double()
    try:
        with torch.no_grad():
            B, T = idx.shape
            H, C = model.config.n_head, model.config.n_embd
            D = C // H
            x = m.transformer.wte(idx) + m.transformer.wpe(torch.arange(T))
            out = []
            for blk in m.transformer.h:
                qkv = blk.attn.c_attn(blk.ln_1(x))
                q, k, v = (qkv[..., i * C : (i + 1) * C].reshape(B, T, H, D).permute(0, 2, 1, 3) for i in range(3))
                scores = q @ k.transpose(-1, -2) / math.sqrt(D)
                future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
                w = torch.softmax(scores.masked_fill(future, -math.inf), dim=-1)
                out.append(w)
                y = (w @ v).permute(0, 2, 1, 3).reshape(B, T, C)
                x = x + blk.attn.c_proj(y)
                x = x + blk.mlp(blk.ln_2(x))
            return out
    finally:
        model.float()


def test_return_weights_rows_sum_to_one_and_nothing_looks_ahead():
    model = model_for()
    idx = torch.randint(0, 40, (3, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        maps = model.attention_maps(idx)
    assert len(maps) == 2
    for w in maps:
        assert w.shape == (3, 4, 16, 16)
        assert torch.allclose(w.sum(-1), torch.ones(3, 4, 16), atol=1e-6)
        assert (w.triu(diagonal=1) == 0).all()
        assert (w[..., causal_mask(16, 16)] > 0).all()  # every earlier position gets some weight
        assert torch.equal(w[..., 0, 0], torch.ones(3, 4))  # the first token reads only itself


def test_weights_equal_a_hand_computation():
    model = model_for()
    idx = torch.randint(0, 40, (2, 11), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        maps = model.attention_maps(idx)
        module_w = model.transformer.h[0].attn.weights(
            model.transformer.h[0].ln_1(model.transformer.wte(idx) + model.transformer.wpe(torch.arange(11)))
        )
    want = by_hand_weights(model, idx)
    for got, ref in zip(maps, want):
        assert (got.double() - ref).abs().max().item() < 1e-6  # float32 vs float64
    assert torch.equal(module_w, maps[0])  # the module's own read-out is the same computation


def test_explicit_weights_path_gives_the_same_output_as_the_fast_path():
    model = model_for()
    idx = torch.randint(0, 40, (2, 16), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        fast, _ = model(idx)
        x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(16))
        for blk in model.transformer.h:
            x, _ = blk(x, None, True)
        slow = model.lm_head(model.transformer.ln_f(x))
    assert (fast - slow).abs().max().item() < 1e-5


def test_attend_masks_agree_between_paths():
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g) for _ in range(3))
    kk, vv = torch.randn(2, 3, 9, 8, generator=g), torch.randn(2, 3, 9, 8, generator=g)
    seg_q = torch.tensor([[0, 0, 1, 1, 1], [2, 2, 2, 2, 2]])
    seg_k = torch.cat([torch.tensor([[0, 0, 0, 0], [2, 2, 7, 7]]), seg_q], dim=1)
    for args in ((q, k, v, None), (q, kk, vv, None), (q, kk, vv, segment_mask(seg_q, seg_k))):
        y_fast = attend(*args)
        y_slow, w = attend(*args, return_weights=True)
        assert (y_fast - y_slow).abs().max().item() < 1e-5
    # the last 5 of 9 positions: query i reads keys 0 … 4+i, and only its own segment
    allowed = segment_mask(seg_q, seg_k)
    assert allowed.shape == (2, 1, 5, 9)
    assert torch.equal(allowed[0, 0, 0], torch.tensor([1, 1, 1, 1, 1, 0, 0, 0, 0], dtype=torch.bool))
    assert torch.equal(allowed[0, 0, 2], torch.tensor([0, 0, 0, 0, 0, 0, 1, 0, 0], dtype=torch.bool))
    assert torch.equal(allowed[1, 0, 0], torch.tensor([1, 1, 0, 0, 1, 0, 0, 0, 0], dtype=torch.bool))
    assert (w[~allowed.expand_as(w)] == 0).all()
    assert torch.equal(causal_mask(2, 4), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool))


def test_segments_make_packed_documents_independent():
    """Two documents packed in one window give the logits each gives alone (the second with
    its positions restarting at 0), and no weight crosses the boundary."""
    model = model_for()
    g = torch.Generator().manual_seed(5)
    a, b = torch.randint(0, 40, (1, 6), generator=g), torch.randint(0, 40, (1, 9), generator=g)
    packed = torch.cat([a, b], dim=1)
    segments = torch.tensor([[0] * 6 + [1] * 9])
    positions = torch.cat([torch.arange(6), torch.arange(9)]).unsqueeze(0)
    with torch.no_grad():
        together, _ = model(packed, positions=positions, segments=segments)
        alone_a, _ = model(a)
        alone_b, _ = model(b)
        maps = model.attention_maps(packed, positions=positions, segments=segments)
    assert (together[:, :6] - alone_a).abs().max().item() < 1e-5
    assert (together[:, 6:] - alone_b).abs().max().item() < 1e-5
    for w in maps:
        assert (w[..., 6:, :6] == 0).all() and (w[..., :6, 6:] == 0).all()
        assert torch.allclose(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-6)


def test_cached_forward_equals_the_full_forward():
    """Prefill 5 tokens, then 1, then a chunk of 4, then 1 at a time: the logits of every
    position equal those of one forward over the whole sequence."""
    model = model_for()
    idx = torch.randint(0, 40, (2, 16), generator=torch.Generator().manual_seed(6))
    cache = model.new_kv_cache(2)
    assert isinstance(cache, KVCache) and cache.max_len == 16 and cache.length == 0
    with torch.no_grad():
        full, _ = model(idx)
        pieces, start = [], 0
        for size in (5, 1, 4) + (1,) * 6:
            logits, _ = model(idx[:, start : start + size], kv_cache=cache)
            pieces.append(logits)
            start += size
            assert cache.length == start
    assert (torch.cat(pieces, dim=1) - full).abs().max().item() < 1e-5
    # the cache holds exactly the keys a full pass computes, in preallocated storage
    with torch.no_grad():
        h = model.transformer.h[0]
        x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(16))
        _, k, v = h.attn.project(h.ln_1(x))
    assert (cache.keys[0] - k).abs().max().item() < 1e-6
    assert (cache.values[0] - v).abs().max().item() < 1e-6


def test_last_only_gives_the_last_row():
    model = model_for()
    idx = torch.randint(0, 40, (3, 10), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        full, _ = model(idx)
        last, _ = model(idx, last_only=True)
    assert last.shape == (3, 1, 40)
    assert (last[:, 0] - full[:, -1]).abs().max().item() < 1e-6


def test_cache_errors_are_one_sentence():
    model = model_for(block_size=8)
    cache = model.new_kv_cache(1, max_len=6)
    assert cache.max_len == 6 and model.new_kv_cache(1, max_len=100).max_len == 8
    with torch.no_grad():
        model(torch.zeros(1, 5, dtype=torch.long), kv_cache=cache)
        with pytest.raises(GlassError, match="5 are filled and 2 more do not fit"):
            model(torch.zeros(1, 2, dtype=torch.long), kv_cache=cache)
        with pytest.raises(GlassError, match="holds 1 rows but the input has 2"):
            model(torch.zeros(2, 1, dtype=torch.long), kv_cache=cache)
        with pytest.raises(GlassError, match="longer than the model's context of 8"):
            model(torch.zeros(1, 9, dtype=torch.long))
    assert cache.length == 5  # a refused call leaves the cache as it was
    cache.reset()
    assert cache.length == 0 and cache.segments is None
    with pytest.raises(GlassError, match="at least one"):
        KVCache(2, 0, 4, 8, 16)


def test_attention_keeps_no_state():
    """Reading weights flips nothing: no attribute on the modules changes."""
    model = model_for()
    before = [dict(vars(b.attn)) for b in model.transformer.h]
    with torch.no_grad():
        model.attention_maps(torch.zeros(1, 4, dtype=torch.long))
        model(torch.zeros(1, 4, dtype=torch.long), kv_cache=model.new_kv_cache(1))
    after = [dict(vars(b.attn)) for b in model.transformer.h]
    assert [sorted(d) for d in before] == [sorted(d) for d in after]
    assert all(before[i][k] is after[i][k] for i in range(2) for k in before[i] if not k.startswith("_"))
