"""The architecture options beyond GPT-2, each tested by its defining property, and the
GPT-2 defaults that every older configuration keeps."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from glassgpt.config import ModelConfig, RunConfig, resolve
from glassgpt.errors import ConfigError
from glassgpt.generation.sampling import generate, generate_batch
from glassgpt.models import GPT
from glassgpt.models.gpt import NORM_EPS, CausalSelfAttention, soft_cap
from glassgpt.models.rotary import Rotary

MODERN = dict(
    pos="rope",
    norm="rmsnorm",
    qk_norm=True,
    activation="relu2",
    zero_init_proj=False,
    logit_softcap=15.0,
    bias=False,
    qkv_bias=False,
    tie_weights=False,
)


def model_for(seed: int = 0, **options) -> GPT:
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=40, block_size=32, n_layer=2, n_head=4, n_embd=32, **options)
    return GPT(cfg).eval()


# ---- rotary position embeddings --------------------------------------------------------


def test_rotary_scores_depend_only_on_relative_positions():
    torch.manual_seed(0)
    attn = CausalSelfAttention(ModelConfig(vocab_size=10, block_size=64, n_head=4, n_embd=32, pos="rope")).eval()
    x = torch.randn(2, 12, 32)
    pos = torch.arange(12)
    with torch.no_grad():
        q0, k0, _ = attn.project(x, pos)
        scores = q0 @ k0.transpose(-2, -1)
        for offset in (1, 7, 40):  # both queries and keys shifted by the same offset
            q, k, _ = attn.project(x, pos + offset)
            assert (q - q0).abs().max() > 1e-2  # the vectors themselves did turn
            assert (q @ k.transpose(-2, -1) - scores).abs().max().item() < 1e-4
        # shifting only the keys changes the scores: position does reach attention
        _, k_shifted, _ = attn.project(x, pos + 3)
        assert (q0 @ k_shifted.transpose(-2, -1) - scores).abs().max().item() > 1e-2


def test_rotary_is_a_rotation_of_channel_pairs():
    rot = Rotary(8, 16, base=10000.0)
    x = torch.randn(1, 1, 16, 8, dtype=torch.float32)
    y = rot(x)
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), atol=1e-5)  # lengths kept
    assert torch.equal(y[..., 0, :], x[..., 0, :])  # position 0 is not turned
    # pair 0 (channels 0 and 4) at position 5 turns by 5 radians (theta_0 = 1)
    c, s = math.cos(5.0), math.sin(5.0)
    a, b = x[0, 0, 5, 0].item(), x[0, 0, 5, 4].item()
    assert y[0, 0, 5, 0].item() == pytest.approx(a * c - b * s, abs=1e-5)
    assert y[0, 0, 5, 4].item() == pytest.approx(a * s + b * c, abs=1e-5)


def test_rope_model_has_no_position_table_and_cached_generation_equals_uncached():
    model = model_for(1, **MODERN)
    names = [n for n, _ in model.named_parameters()]
    assert not any("wpe" in n for n in names)
    assert "wpe" not in "".join(model.weights())
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)  # no near-ties that rounding could flip
    prompt = [3, 9, 1, 4, 4, 20]
    cached = generate(model, prompt, 60, temperature=0, use_cache=True)[0]  # runs past the block of 32
    plain = generate(model, prompt, 60, temperature=0, use_cache=False)[0]
    assert cached == plain and len(set(cached)) > 5
    idx = torch.randint(0, 40, (2, 20), generator=torch.Generator().manual_seed(2))
    cache = model.new_kv_cache(2)
    with torch.no_grad():
        full, _ = model(idx)
        first, _ = model(idx[:, :13], kv_cache=cache)
        rest, _ = model(idx[:, 13:], kv_cache=cache)
    assert (torch.cat([first, rest], 1) - full).abs().max().item() < 1e-4


def test_rope_left_padded_batch_equals_one_prompt_at_a_time():
    model = model_for(2, **MODERN)
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)
    prompts = [[5], [7, 8, 9, 10, 11, 12, 13], [1, 2, 3]]
    batched = generate_batch(model, prompts, 20, temperature=0)
    assert batched == [generate(model, p, 20, temperature=0)[0] for p in prompts]


# ---- norms -------------------------------------------------------------------------------


def test_rmsnorm_matches_the_formula():
    model = model_for(norm="rmsnorm")
    norm = model.transformer.h[0].ln_1
    assert [n for n, _ in norm.named_parameters()] == ["weight"]  # a gain only
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, 32))
        x = torch.randn(3, 5, 32) * 3 + 1  # not centred: RMSNorm must not subtract the mean
        by_hand = x / torch.sqrt((x * x).mean(-1, keepdim=True) + NORM_EPS) * norm.weight
        assert (norm(x) - by_hand).abs().max().item() < 1e-5
        centred = x - x.mean(-1, keepdim=True)
        layer = centred / torch.sqrt((centred**2).mean(-1, keepdim=True) + NORM_EPS) * norm.weight
        assert (norm(x) - layer).abs().max().item() > 1e-2  # and it is not LayerNorm


def test_qk_norm_gives_unit_rms_query_and_key_rows():
    torch.manual_seed(3)
    attn = CausalSelfAttention(ModelConfig(vocab_size=10, block_size=16, n_head=4, n_embd=32, qk_norm=True))
    x = torch.randn(2, 9, 32) * 5
    with torch.no_grad():
        q, k, v = attn.project(x)
        raw_q = attn.c_attn(x).split(32, dim=2)[0].view(2, 9, 4, 8).transpose(1, 2)
    for t in (q, k):
        assert torch.allclose(t.pow(2).mean(-1), torch.ones(2, 4, 9), atol=1e-4)
    assert (q * raw_q).sum(-1).min() > 0  # same direction, only rescaled
    assert v.pow(2).mean(-1).std() > 0.1  # values are not normalised


# ---- MLP, init, head -------------------------------------------------------------------


def test_relu2_is_relu_squared_with_slope_two_relu():
    act = model_for(activation="relu2").transformer.h[0].mlp.act
    x = torch.linspace(-3, 3, 61, requires_grad=True)
    y = act(x)
    assert torch.equal(y, torch.clamp(x, min=0) ** 2)
    y.sum().backward()
    assert torch.allclose(x.grad, 2 * torch.clamp(x.detach(), min=0))


def test_zero_init_projections_make_the_model_its_embedding_path():
    model = model_for(4, zero_init_proj=True)
    for block in model.transformer.h:
        assert torch.count_nonzero(block.attn.c_proj.weight) == 0
        assert torch.count_nonzero(block.mlp.c_proj.weight) == 0
    assert torch.count_nonzero(model.transformer.h[0].attn.c_attn.weight) > 0  # only the projections
    idx = torch.randint(0, 40, (2, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits, _ = model(idx)
        t = model.transformer
        path = model.lm_head(t.ln_f(t.wte(idx) + t.wpe(torch.arange(10))))
    assert torch.equal(logits, path)
    default = model_for(4)
    assert default.transformer.h[0].attn.c_proj.weight.abs().sum() > 0  # GPT-2's init by default


def test_logit_soft_cap_bounds_large_logits_and_keeps_small_ones():
    big = torch.tensor([-1e4, -100.0, -31.0, 0.0, 29.0, 1e4])
    capped = soft_cap(big, 30.0)
    assert (capped.abs() <= 30.0).all() and capped.abs().max() > 29.9
    assert torch.equal(soft_cap(big, 0.0), big)  # 0: off
    small = torch.linspace(-1.5, 1.5, 31)
    rel = (soft_cap(small, 30.0) - small).abs() / small.abs().clamp(min=1e-9)
    assert (rel <= (small / 30.0) ** 2 / 3 + 1e-6).all()  # tanh(u) = u - u^3/3 + ...
    plain, capped_model = model_for(5, tie_weights=False), model_for(5, tie_weights=False, logit_softcap=2.0)
    idx = torch.randint(0, 40, (2, 8), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        for m in (plain, capped_model):
            m.lm_head.weight.mul_(500.0)  # logits far beyond the cap
        raw, _ = plain(idx)
        out, _ = capped_model(idx)
    assert raw.abs().max() > 20 and out.abs().max() <= 2.0  # tanh rounds to exactly ±1 in float32
    assert torch.allclose(out, 2.0 * torch.tanh(raw / 2.0), atol=1e-5)


def test_every_linear_and_norm_can_be_bias_free():
    model = model_for(bias=False, qkv_bias=False, tie_weights=False, head_bias=False)
    assert not [n for n, _ in model.named_parameters() if n.endswith("bias")]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2 * 2 + 2 * 2 + 1 and all(m.bias is None for m in linears)


def test_all_options_together_train_and_backpropagate():
    model = model_for(6, **{**MODERN, "zero_init_proj": True}).train()
    idx = torch.randint(0, 40, (4, 16), generator=torch.Generator().manual_seed(4))
    _, loss = model(idx[:, :-1], idx[:, 1:])
    loss.backward()
    assert math.isfinite(loss.item())
    assert all(p.grad is not None for p in model.parameters())


# ---- configuration -------------------------------------------------------------------


def test_an_old_config_without_the_new_keys_keeps_gpt2():
    old = RunConfig().to_dict()
    for key in ("pos", "rope_base", "norm", "qk_norm", "zero_init_proj", "logit_softcap"):
        old["model"].pop(key)
    cfg = RunConfig.from_dict(old)
    m = cfg.model
    assert (m.pos, m.norm, m.qk_norm, m.zero_init_proj, m.logit_softcap) == ("learned", "layernorm", False, False, 0.0)
    model = GPT(dataclasses.replace(m, vocab_size=40))
    assert "transformer.wpe.weight" in model.weights()
    assert isinstance(model.transformer.ln_f, torch.nn.LayerNorm)
    assert isinstance(model.transformer.h[0].mlp.act, torch.nn.GELU)
    for preset in ("gpt2", "nursery", "poem"):
        p = resolve(preset).model
        assert (p.pos, p.norm, p.qk_norm, p.zero_init_proj, p.logit_softcap) == (
            "learned",
            "layernorm",
            False,
            False,
            0.0,
        )


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("model.pos", "alibi", "learned or rope"),
        ("model.norm", "batchnorm", "layernorm or rmsnorm"),
        ("model.activation", "swish", "relu2"),
        ("model.logit_softcap", "-1", "logit_softcap"),
        ("model.rope_base", "0.5", "rope_base"),
        ("model.attn_dropout", "1.0", "attn_dropout"),
        ("model.attn_dropout", "-0.5", "attn_dropout"),
    ],
)
def test_bad_options_are_refused_in_one_sentence(key, value, words):
    with pytest.raises(ConfigError, match=words):
        resolve("baby", overrides={key: value})


def test_attention_dropout_is_set_apart_from_dropout():
    x = torch.randint(0, 40, (2, 16), generator=torch.Generator().manual_seed(1))
    same = model_for(dropout=0.1)
    assert same.transformer.h[0].attn.dropout == 0.1  # -1, the default: model.dropout
    only_attention = model_for(dropout=0.0, attn_dropout=0.5).train()
    assert only_attention.transformer.h[0].attn.dropout == 0.5
    assert only_attention.transformer.h[0].attn.resid_dropout.p == 0.0
    assert not torch.equal(only_attention(x)[0], only_attention(x)[0])  # the attention weights are dropped
    none = model_for(dropout=0.3, attn_dropout=0.0)
    assert none.transformer.h[0].attn.dropout == 0.0 and none.transformer.h[0].mlp.dropout.p == 0.3
    with pytest.raises(ConfigError, match="attn_dropout"):
        resolve("baby", overrides={"model.attn_dropout": 0.3, "train.engine": "glass"})


def test_rope_needs_an_even_head_size():
    with pytest.raises(ConfigError, match="even"):
        resolve("baby", overrides={"model.pos": "rope", "model.n_embd": "12", "model.n_head": "4"})
    resolve("baby", overrides={"model.pos": "rope"})  # 128 / 4 = 32 is fine


def test_qk_norm_uses_torch_rms_norm_formula():
    q = torch.randn(2, 3, 5, 8)
    assert torch.allclose(
        F.rms_norm(q, (8,), eps=NORM_EPS), q / torch.sqrt(q.pow(2).mean(-1, keepdim=True) + NORM_EPS), atol=1e-6
    )
