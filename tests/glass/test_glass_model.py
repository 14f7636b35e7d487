"""The whole glass GPT against the torch GPT: names, shapes, logits, loss and every gradient.

Float32 and float64 comparisons use the per-tensor tolerance table of
``glassgpt.glass.gradcheck.TOLERANCES`` (each entry has its reason written beside it);
float64 finite differences (eps = 1e-5) must agree to 1e-6 of each gradient's scale plus an
absolute 1e-9: their truncation error is ~eps^2 = 1e-10 and their roundoff
~1e-16 * |loss| / eps ~ 3e-11 (measured worst ~1e-10 absolute).
"""

import dataclasses

import numpy as np
import pytest
import torch

from glassgpt.config import ModelConfig, resolve
from glassgpt.errors import GlassError
from glassgpt.glass import GPT, parameter_shapes
from glassgpt.glass.gradcheck import check_model, numerical_gradient, relative_error
from glassgpt.models import GPT as TorchGPT


def small(**kw) -> ModelConfig:
    base = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16, d_ff=24)
    base.update(kw)
    return ModelConfig(**base)


CONFIGS = {
    "tied-gelu-bias": small(),
    "untied-relu-headbias": small(tie_weights=False, head_bias=True, activation="relu"),
    "untied-gelu-nobias": small(tie_weights=False, bias=False, qkv_bias=False),
    "tied-relu-nobias-padded": small(activation="relu", bias=False, qkv_bias=False, pad_vocab_to=8),
    "untied-gelu-qkvbias-only-padded": small(tie_weights=False, bias=False, qkv_bias=True, pad_vocab_to=16, d_ff=0),
}


def batch(cfg, B=3, T=None, seed=0, ignore=True):
    rng = np.random.default_rng(seed)
    T = T or cfg.block_size
    x = rng.integers(0, cfg.vocab_size, (B, T))
    y = rng.integers(0, cfg.vocab_size, (B, T))
    if ignore:
        y[0, :2] = -1  # ignored targets
    return x, y


def perturbed_torch_model(cfg, seed=0):
    """A torch GPT whose gains and biases are not at their init values (1 and 0), so every
    gradient path is exercised with generic numbers."""
    torch.manual_seed(seed)
    m = TorchGPT(cfg)
    with torch.no_grad():
        for _, p in m.named_parameters():
            if p.dim() == 1:
                p.add_(0.2 * torch.randn_like(p))
    return m


@pytest.mark.parametrize("name", CONFIGS)
def test_parameter_names_and_shapes_are_the_torch_ones(name):
    cfg = CONFIGS[name]
    tm = TorchGPT(cfg)
    assert list(parameter_shapes(cfg).items()) == [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert set(parameter_shapes(cfg)) == set(tm.weights())  # also the checkpoint names
    g = GPT.from_torch(tm)
    assert g.num_params() == tm.num_params()
    assert all(a.dtype == np.float32 for a in g.params.values())


def test_nursery_preset_has_27747_parameters():
    cfg = dataclasses.replace(resolve("nursery").model, vocab_size=35)
    assert GPT(cfg).num_params() == 27_747


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logits_loss_and_every_gradient_match_torch(name, dtype):
    cfg = CONFIGS[name]
    x, y = batch(cfg)
    weights = perturbed_torch_model(cfg).weights()
    rows = check_model(cfg, weights, x, y, dtype)
    assert [r.name for r in rows][:2] == ["logits", "loss"]
    assert len(rows) == 2 + len(parameter_shapes(cfg))
    bad = [f"{r.name}: rel {r.rel:.2e} > {r.tol:.0e} ({r.reason})" for r in rows if not r.ok]
    assert not bad, bad


def test_a_short_sequence_and_the_context_limit():
    cfg = CONFIGS["tied-gelu-bias"]
    x, y = batch(cfg, T=3)
    rows = check_model(cfg, None, x, y, "float64")
    assert all(r.ok for r in rows)
    with pytest.raises(GlassError, match="longer than the model's context"):
        GPT(cfg).forward(np.zeros((1, cfg.block_size + 1), dtype=np.int64))


@pytest.mark.parametrize("name", ["tied-gelu-bias", "untied-relu-headbias", "tied-relu-nobias-padded"])
def test_every_gradient_against_finite_differences_with_dropout(name):
    """float64, dropout 0.1 on (the same seeded masks in every forward pass): central
    differences at 3 random entries of every parameter."""
    cfg = ModelConfig(**{**CONFIGS[name].__dict__, "dropout": 0.1})
    model = GPT.from_torch(perturbed_torch_model(cfg, seed=1), dtype=np.float64)
    x, y = batch(cfg, B=2, seed=1)

    def loss() -> float:
        return float(model.forward(x, y, training=True, rng=np.random.default_rng(7))[1])

    _, grads = model.loss_and_grads(x, y, training=True, rng=np.random.default_rng(7))
    pick = np.random.default_rng(2)
    for name_p, p in model.params.items():
        flat = pick.choice(p.size, size=min(3, p.size), replace=False)
        idx = [np.unravel_index(i, p.shape) for i in flat]
        num = numerical_gradient(loss, p, eps=1e-5, indices=idx)
        got = np.array([grads[name_p][i] for i in idx])
        want = np.array([num[i] for i in idx])
        diff, _ = relative_error(got, want)
        # relative to the tensor's gradient scale (entries picked at random may be ~0), plus an
        # absolute floor for the differences' own roundoff: 1e-16 * |loss| / eps ~ 3e-11
        scale = np.abs(grads[name_p]).max()
        assert diff <= 1e-6 * scale + 1e-9, f"{name_p}: {got} vs finite differences {want}"


def test_padded_rows_get_zero_gradient_and_are_never_in_the_logits():
    cfg = CONFIGS["tied-relu-nobias-padded"]
    model = GPT.from_torch(perturbed_torch_model(cfg))
    x, y = batch(cfg)
    logits, _, cache = model.forward(x, y)
    assert logits.shape == (3, cfg.block_size, cfg.vocab_size)
    g = model.backward(cache)
    assert g["transformer.wte.weight"].shape[0] == cfg.padded_vocab_size > cfg.vocab_size
    # padded rows: never looked up and not part of the head's output -> zero gradient
    assert np.all(g["transformer.wte.weight"][cfg.vocab_size :] == 0)


def test_weights_move_both_ways_unchanged():
    cfg = CONFIGS["untied-relu-headbias"]
    tm = perturbed_torch_model(cfg)
    g = GPT.from_torch(tm)
    back = g.to_torch()
    for n, p in tm.named_parameters():
        assert torch.equal(back.state_dict()[n], p.detach())
    # the round trip did not disturb the global torch RNG
    torch.manual_seed(5)
    a = torch.rand(3)
    torch.manual_seed(5)
    g.to_torch()
    assert torch.equal(torch.rand(3), a)
    # and the tied model's head is still tied after to_torch
    tied = GPT.from_torch(perturbed_torch_model(CONFIGS["tied-gelu-bias"])).to_torch()
    assert tied.lm_head.weight is tied.transformer.wte.weight


def test_load_weights_refuses_a_different_configuration():
    g = GPT(CONFIGS["tied-gelu-bias"])
    with pytest.raises(GlassError, match="different configuration"):
        g.load_weights(GPT(CONFIGS["untied-relu-headbias"]).weights())
    bad = dict(g.weights())
    bad["transformer.wpe.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(GlassError, match="has shape"):
        g.load_weights(bad)


def test_float64_model_and_dropout_off_in_evaluation():
    cfg = ModelConfig(**{**CONFIGS["tied-gelu-bias"].__dict__, "dropout": 0.5})
    g = GPT(cfg, dtype=np.float64, seed=3)
    x, y = batch(cfg, ignore=False)
    logits, loss, _ = g.forward(x, y)  # training=False: deterministic, no rng needed
    assert logits.dtype == np.float64
    assert g.nll_sum(x, y) == pytest.approx(float(loss) * y.size, rel=1e-12)
    a = g.forward(x, y, training=True, rng=np.random.default_rng(0))[1]
    b = g.forward(x, y, training=True, rng=np.random.default_rng(1))[1]
    assert a != b  # different masks, different losses
