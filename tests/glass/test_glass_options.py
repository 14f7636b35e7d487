"""The glass engine's options beyond GPT-2 (RMSNorm, ReLU², soft-capped logits, zero-initialised
projections, bias-free layers) against torch autograd and finite differences, and the
options it refuses.

Tolerances: the whole-model comparisons use ``glassgpt.glass.gradcheck.TOLERANCES`` (each
with its reason); the single-layer float64 finite differences (eps = 1e-6) must agree to
1e-7 of the gradient's scale: truncation ~eps² = 1e-12, roundoff ~1e-16/eps = 1e-10.
"""

import numpy as np
import pytest
import torch
from test_glass_model import perturbed_torch_model

from glassgpt.config import ModelConfig, resolve
from glassgpt.errors import ConfigError
from glassgpt.glass import GPT, parameter_shapes
from glassgpt.glass.gradcheck import check_model, numerical_gradient, relative_error
from glassgpt.glass.layers import relu2_backward, relu2_forward
from glassgpt.glass.model import norm_backward, norm_forward
from glassgpt.glass.options import capped_head_backward, capped_head_forward, rmsnorm_backward, rmsnorm_forward
from glassgpt.training.engines import GlassEngine, TorchEngine


def small(**kw) -> ModelConfig:
    return ModelConfig(**{**dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16, d_ff=24), **kw})


CONFIGS = {
    "rmsnorm": small(norm="rmsnorm"),
    "relu2": small(activation="relu2", tie_weights=False),
    "softcap": small(logit_softcap=1.5, tie_weights=False, head_bias=True),
    "all-bias-free": small(
        norm="rmsnorm",
        activation="relu2",
        logit_softcap=3.0,
        bias=False,
        qkv_bias=False,
        tie_weights=False,
        pad_vocab_to=8,
    ),
}


def perturbed(cfg, seed=0):
    """``test_glass_model``'s perturbed model with its matrices scaled up: logits of a few units,
    so the soft cap really bends them."""
    m = perturbed_torch_model(cfg, seed)
    with torch.no_grad():
        for _, p in m.named_parameters():
            if p.dim() == 2:
                p.mul_(8.0)
    return m


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_options_match_torch_logits_loss_and_every_gradient(name, dtype):
    cfg = CONFIGS[name]
    tm = perturbed(cfg)
    assert list(parameter_shapes(cfg).items()) == [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 13, (3, 8)), rng.integers(0, 13, (3, 8))
    rows = check_model(cfg, tm.weights(), x, y, dtype)
    bad = [f"{r.name}: rel {r.rel:.2e} > {r.tol:.0e} ({r.reason})" for r in rows if not r.ok]
    assert not bad, bad
    if cfg.logit_softcap:
        logits = GPT.from_torch(tm).forward(x)[0]
        assert np.abs(logits).max() > 0.5 * cfg.logit_softcap  # the cap is really bending them


def _check_layer(forward, backward, inputs: list[np.ndarray], seed: int = 0):
    """Finite differences of sum(out * R) against the backward, for every input."""
    R = np.random.default_rng(seed).normal(size=forward(*inputs)[0].shape)

    def f() -> float:
        return float(np.sum(forward(*inputs)[0] * R))

    out, cache = forward(*inputs)
    grads = backward(R, cache)
    for x, g in zip(inputs, grads):
        num = numerical_gradient(f, x, eps=1e-6)
        diff, _ = relative_error(g, num)
        assert diff <= 1e-7 * np.abs(num).max() + 1e-10


def test_rmsnorm_pair_against_finite_differences_and_the_formula():
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(2, 3, 6)) * 2 + 0.5, rng.normal(size=6)
    _check_layer(rmsnorm_forward, rmsnorm_backward, [x, g])
    y, _ = rmsnorm_forward(x, g)
    assert np.allclose(y, x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * g, atol=1e-12)
    # the dispatcher picks the pair by name and the backward by cache
    y2, cache = norm_forward("rmsnorm", x, g)
    assert np.array_equal(y, y2) and norm_backward(np.ones_like(x), cache)[2] is None
    ln, ln_cache = norm_forward("layernorm", x, g, np.zeros(6))
    assert np.allclose((ln / g).mean(-1), 0, atol=1e-6) and norm_backward(np.ones_like(x), ln_cache)[2] is not None


def test_relu2_pair_against_finite_differences():
    x = np.random.default_rng(2).normal(size=(4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # no kink inside the finite-difference step
    out, cache = relu2_forward(x)
    assert np.array_equal(out, np.maximum(x, 0) ** 2)
    num = numerical_gradient(lambda: float(np.sum(relu2_forward(x)[0] * 1.0)), x, eps=1e-6)
    assert np.allclose(relu2_backward(np.ones_like(x), cache), num, atol=1e-8)


def test_capped_head_pair_against_finite_differences():
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4)) * 3, rng.normal(size=5)

    def forward(x, w, b):
        return capped_head_forward(x, w, b, 2.0)

    _check_layer(forward, capped_head_backward, [x, w, b])
    logits, _ = forward(x, w, b)
    assert np.abs(logits).max() < 2.0 and np.abs(logits).max() > 1.5
    plain, _ = capped_head_forward(x, w, b, 0.0)
    assert np.allclose(plain, x @ w.T + b)


def _cfg(engine, **model):
    cfg = resolve("baby", overrides={"train.engine": engine, "train.seed": "3", "train.grad_clip": "1.0"})
    cfg.model.__dict__.update(dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16, **model))
    return cfg


def test_glass_engine_trains_the_options_like_the_torch_engine():
    options = dict(
        norm="rmsnorm", activation="relu2", logit_softcap=4.0, zero_init_proj=True, bias=False, qkv_bias=False
    )
    glass, torch_engine = GlassEngine(_cfg("glass", **options)), TorchEngine(_cfg("torch", **options))
    assert not np.any(glass.model.params["transformer.h.0.mlp.c_proj.weight"])  # zero-initialised, copied from torch
    rng = np.random.default_rng(4)
    for step in range(6):
        x, y = rng.integers(0, 13, (4, 8)), rng.integers(0, 13, (4, 8))
        a = glass.train_step([(x, y)], 1e-2)
        b = torch_engine.train_step([(x, y)], 1e-2)
        assert a.loss == pytest.approx(b.loss, rel=1e-5, abs=1e-6), step
    assert np.any(glass.model.params["transformer.h.0.mlp.c_proj.weight"])  # and they do learn


@pytest.mark.parametrize("key, value", [("model.pos", "rope"), ("model.qk_norm", "true")])
def test_glass_refuses_rope_and_qk_norm_in_one_sentence(key, value):
    with pytest.raises(ConfigError, match="glass engine has no hand-written gradients .* use --engine torch"):
        resolve("baby", overrides={"train.engine": "glass", key: value})
    resolve("baby", overrides={"train.engine": "torch", key: value})  # fine on torch
