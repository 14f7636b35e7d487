"""The two bigrams: the NLL of the counting model against a hand count, and counting = learning."""

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from glassgpt.makemore.models import build_model, make_config
from glassgpt.makemore.words import build_examples, word_vocabulary

# ---------------------------------------------------------------------------------------------
# The counting bigram on five words, counted by hand
# ---------------------------------------------------------------------------------------------
FIVE = ["ab", "ab", "ba", "b", "a"]
# bigrams with "." at both ends:
#   ab -> .a ab b.      ab -> .a ab b.      ba -> .b ba a.      b -> .b b.      a -> .a a.
# row ".": .a 3, .b 2 (5)     row "a": ab 2, a. 2 (4)     row "b": b. 3, ba 1 (4)     13 bigrams
HAND_COUNTS = [[0, 3, 2], [2, 0, 2], [3, 1, 0]]


def _five():
    tok = word_vocabulary(FIVE)
    assert tok.chars == [".", "a", "b"]
    X, Y = build_examples(FIVE, tok, 1)
    return torch.from_numpy(X), torch.from_numpy(Y)


def test_counting_gives_the_hand_counts():
    X, Y = _five()
    model = build_model("bigram", make_config("bigram", vocab_size=3, smoothing=0.0))
    model.count(X, Y)
    assert model.counts.tolist() == HAND_COUNTS
    model.count(X, Y)  # counting again adds up
    assert model.counts.tolist() == [[2 * c for c in row] for row in HAND_COUNTS]


@pytest.mark.parametrize(
    "k, hand_nll",
    [
        # -(3 ln 3/5 + 2 ln 2/5 + 2 ln 2/4 + 2 ln 2/4 + 3 ln 3/4 + 1 ln 1/4) / 13, worked out on paper: 0.645153
        (
            0.0,
            -(3 * math.log(3 / 5) + 2 * math.log(2 / 5) + 4 * math.log(2 / 4) + 3 * math.log(3 / 4) + math.log(1 / 4))
            / 13,
        ),
        # add-1: row "." (1, 4, 3)/8, row "a" (3, 1, 3)/7, row "b" (4, 2, 1)/7
        (
            1.0,
            -(3 * math.log(4 / 8) + 2 * math.log(3 / 8) + 4 * math.log(3 / 7) + 3 * math.log(4 / 7) + math.log(2 / 7))
            / 13,
        ),
    ],
)
def test_bigram_nll_equals_the_hand_count(k, hand_nll):
    X, Y = _five()
    model = build_model("bigram", make_config("bigram", vocab_size=3, smoothing=k))
    model.count(X, Y)
    _, loss = model(X, Y)
    assert loss.item() == pytest.approx(hand_nll, abs=1e-6)
    if k == 0.0:
        assert hand_nll == pytest.approx(0.645153, abs=1e-6)
    # the smoothed model pays on the training pairs, but never gives an unseen pair probability 0
    assert model(torch.tensor([[1]]), torch.tensor([1]))[1].item() == (
        math.inf if k == 0 else pytest.approx(math.log(7))
    )


def test_smoothing_moves_the_table_toward_uniform():
    X, Y = _five()
    losses = []
    for k in (0.0, 1.0, 10.0, 1e6):
        model = build_model("bigram", make_config("bigram", vocab_size=3, smoothing=k))
        model.count(X, Y)
        losses.append(model(X, Y)[1].item())
    assert losses == sorted(losses)  # more smoothing, worse fit of the training data
    assert losses[-1] == pytest.approx(math.log(3), abs=1e-5)


# ---------------------------------------------------------------------------------------------
# The neural bigram: the softmax written out, and counting = learning
# ---------------------------------------------------------------------------------------------
def _small_list():
    """200 random words over a, b, c, d with uneven letter frequencies: every bigram row has many examples."""
    rng = random.Random(0)
    words = ["".join(rng.choice("aabbbcd") for _ in range(rng.randint(1, 6))) for _ in range(200)]
    tok = word_vocabulary(words)
    X, Y = build_examples(words, tok, 1)
    return tok.vocab_size, torch.from_numpy(X), torch.from_numpy(Y)


def _descend(l2, X, Y, V, steps, lr=10.0):
    """Full-batch gradient descent, the lecture's loop (lr 50 there; 10 here, where a row of
    this small list holds a larger share of the examples and 50 would oscillate)."""
    model = build_model("neural-bigram", make_config("neural-bigram", vocab_size=V, l2=l2), seed=0)
    for _ in range(steps):
        _, loss = model(X, Y)
        model.W.grad = None
        loss.backward()
        with torch.no_grad():
            model.W -= lr * model.W.grad
    return model


def _count_probs(X, Y, V, k):
    model = build_model("bigram", make_config("bigram", vocab_size=V, smoothing=k))
    model.count(X, Y)
    return model.probs().float(), model.counts


def test_the_written_out_softmax_is_cross_entropy_and_l2_is_a_training_term():
    V, X, Y = _small_list()
    model = build_model("neural-bigram", make_config("neural-bigram", vocab_size=V, l2=0.5), seed=1)
    logits, loss = model(X, Y)
    nll = F.cross_entropy(logits, Y)
    assert loss.item() == pytest.approx(nll.item() + 0.5 * (model.W**2).mean().item(), rel=1e-6)
    model.eval()
    assert model(X, Y)[1].item() == pytest.approx(nll.item(), rel=1e-6)
    assert torch.allclose(logits, model.W[X[:, 0]])  # one-hot @ W picks a row of W


def test_gradient_descent_finds_the_count_table():
    V, X, Y = _small_list()
    P0, counts = _count_probs(X, Y, V, 0.0)
    seen = counts > 0
    assert seen.sum() == V * V - 1  # every pair but ".." (no empty word) occurs
    early = _descend(0.0, X, Y, V, steps=10)
    model = _descend(0.0, X, Y, V, steps=300)
    err_early = (early.probs() - P0).abs().max().item()
    err = (model.probs() - P0).abs().max().item()
    assert err < 0.005 and err_early > 10 * err
    # the loss reaches the counting model's NLL, the best any bigram can do on these pairs
    counted = build_model("bigram", make_config("bigram", vocab_size=V, smoothing=0.0))
    counted.count(X, Y)
    learned, best = model.eval()(X, Y)[1].item(), counted(X, Y)[1].item()
    assert best - 1e-6 <= learned < best + 1e-3  # the counts are the optimum; descent gets close
    # W itself converges to the log-counts, up to a constant per row (softmax ignores it); the
    # never-seen pair ".." has log-count -inf, which W only approaches, so it is left out
    W = model.W.detach().double()
    logN = counts.double().log()
    row_w = torch.stack([W[i][seen[i]].mean() for i in range(V)])[:, None]
    row_n = torch.stack([logN[i][seen[i]].mean() for i in range(V)])[:, None]
    a, b = (W - row_w)[seen], (logN - row_n)[seen]
    assert np.corrcoef(a.numpy(), b.numpy())[0, 1] > 0.99


def test_l2_strength_plays_the_role_of_add_k():
    V, X, Y = _small_list()
    _, counts = _count_probs(X, Y, V, 0.0)
    weight = counts.sum(1).double() / counts.sum()  # how often each row is used

    def distance(P, Q):
        """Total variation between the rows, weighted by how often each row is used."""
        return float((weight * 0.5 * (P.double() - Q.double()).abs().sum(1)).sum())

    ks = np.geomspace(0.01, 1000, 41)
    tables = [_count_probs(X, Y, V, k)[0] for k in ks]
    best_k, raw, best = [], [], []
    for l2 in (0.01, 0.1, 1.0):
        P = _descend(l2, X, Y, V, steps=300).probs()
        d = [distance(P, T) for T in tables]
        best_k.append(ks[int(np.argmin(d))])
        raw.append(distance(P, _count_probs(X, Y, V, 0.0)[0]))
        best.append(min(d))
    # more L2, more smoothing: roughly k ~ 75 x l2 on this list (0.75, 7.5, 75 measured)
    assert best_k[0] < best_k[1] < best_k[2]
    assert best_k[2] / best_k[0] > 20
    # and the smoothed table explains the regularised model far better than the raw counts do
    assert raw == sorted(raw) and all(b < 0.35 * r for b, r in zip(best, raw))
