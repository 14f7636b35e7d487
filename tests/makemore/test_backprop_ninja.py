"""Backprop by hand: every intermediate of the MLP + BatchNorm against autograd, the two
one-formula shortcuts, and a training run on hand gradients that follows torch step for step.
The check's bound follows the size of the terms each gradient combines: it passes correct
code on the lecture's unscaled initialisation and on runs trained with ``--engine glass``, and
still fails a formula that drops a term."""

import numpy as np
import pytest
import torch
from support.wordlists import make_words, train_rung, write_words

from glassgpt.cli import main
from glassgpt.errors import ConfigError
from glassgpt.makemore import backprop_check
from glassgpt.makemore.backprop import ORDER, backward_steps, batchnorm_backward_formula, forward_steps, init_params
from glassgpt.makemore.backprop_check import (
    compare_formulas,
    compare_steps,
    error_bounds,
    torch_mlp_for,
    torch_steps,
    training_match,
)
from glassgpt.makemore.backprop_fused import HandMLP
from glassgpt.makemore.models import MLP, MLPConfig, build_model, make_config
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


def _batch(examples, dtype, seed=0, n=32, init="exercise"):
    """Weights and a batch of 32.  "exercise": the backprop-ninja exercise's small random
    weights; "unscaled": the lecture's N(0, 1) initialisation (no fixes, BatchNorm on), which
    the ladder's MLP and ``--engine glass`` start from — large logits, saturated tanh units."""
    V, X, Y = examples
    ix = np.random.default_rng(seed).integers(0, len(X), n)
    if init == "exercise":
        return init_params(vocab_size=V, seed=seed, dtype=dtype), X[ix], Y[ix]
    model = MLP(MLPConfig(vocab_size=V, batchnorm=True, hidden_bias=True), torch.Generator().manual_seed(seed))
    return {name: t.numpy().astype(dtype) for name, t in model.weights().items()}, X[ix], Y[ix]


@pytest.mark.parametrize("init", ["exercise", "unscaled"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_intermediate_matches_autograd(examples, dtype, seed, init):
    params, X, Y = _batch(examples, dtype, seed, init=init)
    rows = compare_steps(params, X, Y)
    assert [r.name for r in rows] == list(ORDER)
    failures = [(r.name, r.max_diff, r.error, r.bound) for r in rows if not r.ok]
    assert not failures
    shapes = {r.name: r.shape for r in rows}
    V, H = examples[0], params["bn.gamma"].size
    assert shapes["logit_maxes"] == (32, 1) and shapes["bnvar"] == (1, H) and shapes["emb"] == (32, 3, 10)
    assert shapes["C"] == (V, 10) and shapes["W1"] == (30, H) and shapes["W2"] == (H, V)
    assert rows[0].exact  # dlogprobs is set, not computed: bit for bit
    # the bound is 2 x the roundings counted beside each line, and correct code is far inside it
    _, _, acts = torch_steps(params, X, Y)
    bounds = error_bounds(params, X, Y, acts)
    assert all(r.bound == 2 * bounds[r.name][1] for r in rows)
    assert max(r.error for r in rows) < 10


def test_the_bound_follows_the_terms_not_the_result(examples):
    """The lecture's unscaled initialisation, where the old result-sized tolerance failed
    correct code: gradients made of terms that cancel are far smaller than those terms."""
    params, X, Y = _batch(examples, np.float64, seed=1, init="unscaled")
    _, ref, acts = torch_steps(params, X, Y)
    bounds = error_bounds(params, X, Y, acts)
    # b1: mathematically 0 (BatchNorm removes any bias), so nothing but cancelled terms is left
    assert bounds["b1"][0].min() > 1e10 * np.abs(ref["b1"]).max()
    # bnvar_inv sums bndiff * dbnraw over the batch: the sum is smaller than its terms
    assert (bounds["bnvar_inv"][0] / np.abs(ref["bnvar_inv"])).max() > 10
    # a size is never smaller than the gradient it bounds
    assert all((bounds[name][0] >= np.abs(ref[name]) * (1 - 1e-12)).all() for name in ORDER)


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
    _, ref, _ = torch_steps(params, X, Y)
    size, roundings = error_bounds(params, X, Y, acts)["hprebn"]
    allowed = 2 * roundings * np.finfo(np.float64).eps * size
    assert (np.abs(bessel - ref["hprebn"]) > 1e6 * allowed).any()
    assert (np.abs(batchnorm_backward_formula(dh, acts, params) - ref["hprebn"]) <= allowed).all()


def _lose_repeated_rows(d, a, X):
    dC = np.zeros_like(d["C"])
    dC[X] += d["emb"]  # fancy indexing keeps one of each repeated row instead of adding them up
    return dC


#: classic mistakes, each one step's formula with a term dropped
BUGS = {
    # forgets that counts is used twice (directly and through counts_sum)
    "counts": lambda d, a, X: a["counts_sum_inv"] * d["probs"],
    # forgets that bndiff is used twice (in bnraw and in the variance)
    "bndiff": lambda d, a, X: a["bnvar_inv"] * d["bnraw"],
    # a mean over the batch instead of its sum
    "b2": lambda d, a, X: d["logits"].mean(0),
    "C": _lose_repeated_rows,
}


@pytest.mark.parametrize("broken", list(BUGS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init", ["exercise", "unscaled"])
def test_a_step_that_drops_a_term_still_fails(examples, monkeypatch, broken, dtype, init):
    real = backprop_check.backward_steps

    def wrong(params, X, Y, acts, eps=1e-5):
        d = real(params, X, Y, acts, eps)
        d[broken] = BUGS[broken](d, acts, X)
        return d

    monkeypatch.setattr(backprop_check, "backward_steps", wrong)
    params, X, Y = _batch(examples, dtype, seed=2, init=init)
    rows = {r.name: r for r in compare_steps(params, X, Y)}
    assert [name for name, r in rows.items() if not r.ok] == [broken]
    assert rows[broken].error > 10 * rows[broken].bound  # off by a term's size, not by roundoff


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


@pytest.fixture(scope="module")
def glass_runs(tmp_path_factory):
    """The lecture's MLP as the issue trained it: `glassgpt train --model mlp --set
    model.batchnorm=true --engine glass` (unscaled initialisation), three seeds."""
    root = tmp_path_factory.mktemp("glass-mlp")
    data = write_words(root, make_words(300))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GLASSGPT_REPORT", "0")
        for seed in range(3):
            argv = ["--set", "model.batchnorm=true", "--engine", "glass", "--seed", str(seed)]
            argv += ["--preset", "makemore-mlp", "--max-steps", "200", "--set", "model.hidden_init=randn"]
            assert train_rung("mlp", data, root / f"seed{seed}", *argv) == 0
    return root


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradcheck_passes_runs_trained_by_the_glass_engine(glass_runs, capsys, dtype):
    for seed in range(3):
        assert main(["gradcheck", str(glass_runs / f"seed{seed}"), "--dtype", dtype]) == 0, capsys.readouterr().out
        out = capsys.readouterr().out
        assert "FAIL" not in out and out.rstrip().endswith("matches autograd.")


def test_gradcheck_fails_a_run_walked_with_a_wrong_formula(glass_runs, capsys, monkeypatch):
    real = backprop_check.backward_steps

    def wrong(params, X, Y, acts, eps=1e-5):
        d = real(params, X, Y, acts, eps)
        d["counts"] = BUGS["counts"](d, acts, X)
        return d

    monkeypatch.setattr(backprop_check, "backward_steps", wrong)
    assert main(["gradcheck", str(glass_runs / "seed0")]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith("1 checks FAILED: counts")
    assert next(line for line in out.splitlines() if line.startswith("counts ")).split()[3] == "FAIL"
