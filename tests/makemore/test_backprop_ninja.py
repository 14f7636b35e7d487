"""Backprop by hand: every intermediate of the MLP + BatchNorm against autograd, the two
one-formula shortcuts, and a training run on hand gradients that follows torch step for step."""

import numpy as np
import pytest
import torch

from glassgpt.errors import ConfigError
from glassgpt.makemore.backprop import ORDER, backward_steps, batchnorm_backward_formula, forward_steps, init_params
from glassgpt.makemore.backprop_check import (
    TOLERANCES,
    compare_formulas,
    compare_steps,
    torch_mlp_for,
    torch_steps,
    training_match,
)
from glassgpt.makemore.backprop_fused import HandMLP
from glassgpt.makemore.models import build_model, make_config
from glassgpt.makemore.words import build_examples, word_vocabulary

WORDS = (
    "emma olivia ava isabella sophia charlotte mia amelia harper evelyn abigail emily ella elizabeth "
    "camila luna sofia avery mila aria scarlett penelope layla chloe victoria madison eleanor grace nora "
    "riley zoey hannah hazel lily ellie violet lillian zoe stella aurora natalie emilia everly leah"
).split()


@pytest.fixture(scope="module")
def examples():
    tok = word_vocabulary(WORDS)
    X, Y = build_examples(WORDS, tok, 3)
    return tok.vocab_size, X, Y


def _batch(examples, dtype, seed=0, n=32):
    V, X, Y = examples
    ix = np.random.default_rng(seed).integers(0, len(X), n)
    return init_params(vocab_size=V, seed=seed, dtype=dtype), X[ix], Y[ix]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_intermediate_matches_autograd(examples, dtype, seed):
    params, X, Y = _batch(examples, dtype, seed)
    rows = compare_steps(params, X, Y)
    assert [r.name for r in rows] == list(ORDER)
    failures = [(r.name, r.max_diff, r.tol) for r in rows if not r.ok]
    assert not failures
    shapes = {r.name: r.shape for r in rows}
    V = examples[0]
    assert shapes["logit_maxes"] == (32, 1) and shapes["bnvar"] == (1, 64) and shapes["emb"] == (32, 3, 10)
    assert shapes["C"] == (V, 10) and shapes["W1"] == (30, 64) and shapes["W2"] == (64, V)
    assert rows[0].exact  # dlogprobs is set, not computed: bit for bit
    assert all(r.tol == TOLERANCES[r.name][0 if dtype == np.float32 else 1] for r in rows)


def test_the_gradients_that_should_vanish_do(examples):
    params, X, Y = _batch(examples, np.float64)
    _, acts = forward_steps(params, X, Y)
    d = backward_steps(params, X, Y, acts)
    # the max only shifts the logits; softmax does not care, so its gradient is roundoff
    assert np.abs(d["logit_maxes"]).max() < 1e-15 and np.abs(d["logits"]).max() > 1e-3
    # BatchNorm subtracts the batch mean: a bias before it cannot change anything
    assert np.abs(d["b1"]).max() < 1e-15 and np.abs(d["W1"]).max() > 1e-3
    # and every example's gradient through the batch mean sums to zero
    assert np.abs(d["hprebn"].sum(0)).max() < 1e-15


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_formula_backward_passes_equal_the_chain(examples, dtype):
    params, X, Y = _batch(examples, dtype, seed=3)
    rows = compare_formulas(params, X, Y)
    assert len(rows) == 4 and all(r.ok for r in rows), [(r.name, r.max_diff) for r in rows if not r.ok]


def test_the_checker_catches_a_wrong_formula(examples):
    """The lecture normalises with the n - 1 variance, and its one-line BatchNorm backward carries
    n/(n-1); on this network (normalised with 1/n, like torch) that formula is measurably wrong."""
    params, X, Y = _batch(examples, np.float64, seed=4)
    _, acts = forward_steps(params, X, Y)
    d = backward_steps(params, X, Y, acts)
    n, dh, raw = 32, d["hpreact"], acts["bnraw"]
    bessel = params["bn.gamma"] * acts["bnvar_inv"] / n * (n * dh - dh.sum(0) - n / (n - 1) * raw * (dh * raw).sum(0))
    _, ref = torch_steps(params, X, Y)
    tol = TOLERANCES["hprebn"][1]
    assert np.abs(bessel - ref["hprebn"]).max() > 1e6 * tol
    assert np.abs(batchnorm_backward_formula(dh, acts, params) - ref["hprebn"]).max() <= tol


@pytest.mark.parametrize(
    "dtype, tol",
    [
        (np.float64, 1e-12),  # measured ~1e-15 after 20 steps: roundoff only, any bug is ~1e-3 or more
        (np.float32, 2e-5),  # measured ~2e-7; float32 roundoff grows slowly with the steps
    ],
)
def test_training_on_hand_gradients_follows_autograd(examples, dtype, tol):
    V, X, Y = examples
    params = init_params(vocab_size=V, seed=5, dtype=dtype)
    match = training_match(params, X, Y, steps=20, batch_size=32, lr=0.1, seed=6)
    assert len(match.hand_losses) == len(match.torch_losses) == 20
    assert match.max_loss_diff < tol and match.max_param_diff < 10 * tol
    assert np.mean(match.hand_losses[-5:]) < np.mean(match.hand_losses[:5]) - 0.05  # it learns


def test_hand_mlp_equals_the_torch_mlp_without_batchnorm_too(examples):
    V, X, Y = examples
    model = build_model(
        "mlp", make_config("mlp", vocab_size=V, n_hidden=50, small_output=True, hidden_init="kaiming"), seed=0
    ).double()
    hand = HandMLP.from_weights(model.weights(), dtype=np.float64)
    assert not hand.batchnorm
    logits_h, loss_h, cache = hand.forward(X[:40], Y[:40])
    grads = hand.backward(cache)
    logits_t, loss_t = model(torch.from_numpy(X[:40]), torch.from_numpy(Y[:40]))
    loss_t.backward()
    assert abs(float(loss_h) - loss_t.item()) < 1e-13
    for name, p in model.named_parameters():
        assert np.abs(grads[name] - p.grad.numpy()).max() < 1e-13, name


def test_hand_mlp_eval_uses_the_running_statistics_like_torch(examples):
    V, X, Y = examples
    params = init_params(vocab_size=V, seed=7)
    hand = HandMLP({k: v.copy() for k, v in params.items()}, bn_momentum=0.1)
    model = torch_mlp_for(params, bn_momentum=0.1).train()
    for i in range(3):  # move the running statistics
        hand.forward(X[32 * i : 32 * i + 32], Y[32 * i : 32 * i + 32])
        model(torch.from_numpy(X[32 * i : 32 * i + 32]))
    model.eval()
    one_h, _, _ = hand.forward(X[:1], training=False)
    one_t, _ = model(torch.from_numpy(X[:1]))
    assert np.abs(one_h - one_t.detach().numpy()).max() < 1e-12
    assert np.abs(hand.params["bn.running_var"] - model.bn.running_var.numpy()).max() < 1e-12
    assert np.abs(hand.forward(X[:8], training=False)[0][:1] - one_h).max() < 1e-12  # batch-independent


def test_the_walk_needs_batchnorm(examples):
    V, X, Y = examples
    plain = build_model("mlp", make_config("mlp", vocab_size=V), seed=0)
    params = HandMLP.from_weights(plain.weights(), dtype=np.float64).params
    with pytest.raises(ConfigError, match="with BatchNorm"):
        compare_steps(params, X[:32], Y[:32])
