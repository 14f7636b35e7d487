import math

import pytest
import torch

from glassgpt.config import ModelConfig, resolve
from glassgpt.errors import GlassError
from glassgpt.generation.sampling import generate
from glassgpt.models import GPT


def small_model(**kw) -> GPT:
    cfg = ModelConfig(vocab_size=50, block_size=12, n_layer=2, n_head=4, n_embd=32, **kw)
    torch.manual_seed(0)
    return GPT(cfg).eval()


def test_shapes_and_loss_is_cross_entropy():
    model = small_model()
    idx = torch.randint(0, 50, (3, 12))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, 12, 50)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 50), idx.reshape(-1))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_causal_future_tokens_do_not_change_past_logits():
    model = small_model()
    a = torch.randint(0, 50, (1, 12))
    b = a.clone()
    b[0, 7:] = (b[0, 7:] + 1) % 50  # change tokens 7.. only
    la, lb = model(a)[0], model(b)[0]
    assert torch.allclose(la[0, :7], lb[0, :7], atol=1e-6)  # positions before 7 unchanged
    assert not torch.allclose(la[0, 7:], lb[0, 7:], atol=1e-4)  # later ones do change


def test_initial_loss_is_about_ln_vocab():
    model = small_model()
    g = torch.Generator().manual_seed(1)
    idx, targets = torch.randint(0, 50, (16, 12), generator=g), torch.randint(0, 50, (16, 12), generator=g)
    _, loss = model(idx, targets)
    assert abs(loss.item() - math.log(50)) < 0.1  # N(0, 0.02) init: near-uniform predictions


def test_sequence_longer_than_context_is_a_clear_error():
    with pytest.raises(GlassError, match="longer than the model's context"):
        small_model()(torch.zeros(1, 13, dtype=torch.long))


@pytest.mark.parametrize("preset,vocab,expected", [("nursery", 35, 27_747), ("poem", 256, 241_024)])
def test_preset_parameter_counts(preset, vocab, expected):
    cfg = resolve(preset)
    cfg = cfg.updated({"model.vocab_size": vocab})
    assert GPT(cfg.model).num_params() == expected


def test_nursery_layout_matches_seeds_b2():
    cfg = resolve("nursery")
    cfg = cfg.updated({"model.vocab_size": 35})
    names = dict((n, s) for n, s, _ in GPT(cfg.model).param_table())
    assert "transformer.h.0.attn.c_attn.bias" not in names  # bias-free q/k/v
    assert names["lm_head.bias"] == (35,)  # untied head with bias
    assert names["transformer.h.1.mlp.c_fc.weight"] == (128, 32)


def test_hf_gpt2_parameter_names():
    names = set(small_model().weights())
    for n in [
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "transformer.h.0.ln_1.weight",
        "transformer.h.0.attn.c_attn.weight",
        "transformer.h.0.attn.c_proj.bias",
        "transformer.h.1.mlp.c_fc.weight",
        "transformer.h.1.mlp.c_proj.weight",
        "transformer.ln_f.bias",
    ]:
        assert n in names
    assert "lm_head.weight" not in names  # tied: stored once, as Hugging Face does


def test_residual_projection_init_is_scaled():
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=50, n_layer=8, n_head=4, n_embd=256, block_size=16))
    std = model.transformer.h[0].mlp.c_proj.weight.std().item()
    assert std == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert model.transformer.h[0].mlp.c_fc.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_padded_vocab_is_never_emitted():
    cfg = ModelConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=16, pad_vocab_to=64)
    model = GPT(cfg)
    assert model.transformer.wte.weight.shape[0] == 64
    assert model(torch.zeros(1, 4, dtype=torch.long))[0].shape[-1] == 50


def test_weights_round_trip_and_mismatch_error():
    a, b = small_model(), small_model()
    with torch.no_grad():
        for p in b.parameters():
            p.add_(1.0)
    b.load_weights(a.weights())
    idx = torch.randint(0, 50, (2, 12))
    assert torch.equal(a(idx)[0], b(idx)[0])
    other = GPT(ModelConfig(vocab_size=50, block_size=12, n_layer=1, n_head=4, n_embd=32))
    with pytest.raises(GlassError, match="different configuration"):
        other.load_weights(a.weights())


def test_kv_cache_gives_the_same_tokens_as_full_recompute():
    model = small_model()
    prompt = [1, 2, 3]
    greedy_cached = generate(model, prompt, 20, temperature=0, use_cache=True)  # crosses block_size 12
    greedy_plain = generate(model, prompt, 20, temperature=0, use_cache=False)
    assert greedy_cached == greedy_plain
    s1 = generate(model, prompt, 15, temperature=1.0, seed=5, use_cache=True)
    s2 = generate(model, prompt, 15, temperature=1.0, seed=5, use_cache=False)
    assert s1 == s2


def test_generation_crops_to_the_trained_context():
    model = small_model()
    prompt = [1, 2, 3, 4, 5]
    out = generate(model, prompt, 6, temperature=0, max_context=4)[0]
    seq = list(prompt)
    for _ in range(6):  # the same thing by hand: only the last 4 tokens are ever seen
        logits = model(torch.tensor([seq[-4:]]))[0][0, -1]
        seq.append(int(logits.argmax()))
    assert out == seq[len(prompt) :]
