"""The hand-written gradients of the losses after fine-tuning (Bradley–Terry, DPO, the policy
gradient) against torch's autograd of the losses the engine trains with, and what each gradient
says in words: a pair ranked right by far stops pulling, a clipped token gets no surrogate
gradient, a fresh rollout's gradient is the sampled token's cross-entropy gradient times −A/n."""

from __future__ import annotations

import numpy as np
import pytest

from glassgpt.glass import bradley_terry as BT
from glassgpt.glass import dpo as DPO
from glassgpt.glass import policy_gradient as PG
from glassgpt.glass.stage_gradcheck import TOLERANCES, check_stage_losses


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_hand_written_gradient_matches_autograd(dtype, seed):
    rows = check_stage_losses(dtype, seed)
    assert [r.name for r in rows] == list(TOLERANCES)
    bad = [(r.name, r.rel, r.tol) for r in rows if not r.ok]
    assert not bad, bad


def test_a_wrong_gradient_would_be_caught(monkeypatch):
    """The check is not vacuous: a sign error in the policy gradient's KL term fails it."""
    real = PG.policy_gradient_backward

    def wrong(dloss, cache):
        return real(dloss, cache._replace(beta=-cache.beta))

    monkeypatch.setattr(PG, "policy_gradient_backward", wrong)
    failed = [r.name for r in check_stage_losses("float64") if not r.ok]
    assert failed == ["ppo+kl dlogits"]


def test_bradley_terry_in_numbers():
    loss, cache = BT.bradley_terry_forward(np.array([2.0, 0.0, -3.0]), np.array([0.0, 0.0, 0.0]))
    assert loss == pytest.approx(np.mean([np.log1p(np.exp(-2.0)), np.log(2.0), np.log1p(np.exp(3.0))]))
    dc, dr = BT.bradley_terry_backward(1.0, cache)
    assert dc[1] == pytest.approx(-0.5 / 3)  # a tie pulls the chosen up by half a unit (over N = 3)
    assert abs(dc[0]) < abs(dc[1]) < abs(dc[2])  # ranked right by far: little pull; wrong: nearly all of it
    np.testing.assert_allclose(dr, -dc)


def test_a_fresh_rollout_is_reinforce():
    """ratio 1, β 0: dL/dz = −(A/n)(onehot(y) − softmax(z)) on every generated token."""
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 3, 5))
    targets = np.array([[-1, 4, 1], [2, -1, -1]])
    logp = DPO.token_logprobs(logits, targets)[0]
    advantages = np.array([0.5, -1.0])
    loss, cache = PG.policy_gradient_forward(logits, targets, logp, logp, advantages)
    d = PG.policy_gradient_backward(1.0, cache)
    probs = np.exp(DPO.log_softmax(logits))
    for (i, t), y in np.ndenumerate(targets):
        expected = np.zeros(5) if y < 0 else -(advantages[i] / 3) * (np.eye(5)[y] - probs[i, t])
        np.testing.assert_allclose(d[i, t], expected, atol=1e-12)
    assert loss == pytest.approx(-(2 * 0.5 - 1.0) / 3)


def test_clipped_tokens_get_no_surrogate_gradient():
    logits = np.zeros((1, 2, 3))
    targets = np.array([[0, 1]])
    logp = DPO.token_logprobs(logits, targets)[0]
    old = logp - np.array([[0.5, 0.0]])  # token 0 is far more likely now (ratio e^0.5 > 1.2), token 1 unchanged
    _, cache = PG.policy_gradient_forward(logits, targets, old, logp, np.array([1.0]), clip=0.2)
    d = PG.policy_gradient_backward(1.0, cache)
    assert cache.active.tolist() == [[False, True]]
    assert not d[0, 0].any() and d[0, 1].any()


def test_dpo_contributions_and_a_pair_ranked_right_by_far():
    logits = np.zeros((1, 2, 4))
    targets = np.array([[1, 2]])
    logp = DPO.token_logprobs(logits, targets)[0]
    np.testing.assert_allclose(DPO.token_contributions(logp, logp - 1.0, beta=0.1), [[0.1, 0.1]])
    far = DPO.dpo_forward(logits, targets, logits, targets, np.array([-100.0]), np.array([100.0]), 0.1)[1]
    dw, dl = DPO.dpo_backward(1.0, far)
    assert np.abs(dw).max() < 1e-8 and np.abs(dl).max() < 1e-8


def test_dpo_nll_keeps_the_chosen_reply_pulling_when_ranked_right():
    """α = 0.5, one pair ranked right by far: the DPO part is ~0, the NLL part is log 4 per token
    (uniform logits over 4 ids) times α, and only the chosen reply's logits get a gradient,
    −α/(N n_w) (onehot − 1/4) at each of its 2 positions."""
    logits = np.zeros((1, 2, 4))
    targets = np.array([[1, 2]])
    loss, far = DPO.dpo_forward(logits, targets, logits, targets, np.array([-100.0]), np.array([100.0]), 0.1, nll=0.5)
    assert loss == pytest.approx(0.5 * np.log(4), abs=1e-8)
    dw, dl = DPO.dpo_backward(1.0, far)
    want = -0.25 * (np.eye(4)[[1, 2]] - 0.25)
    np.testing.assert_allclose(dw[0], want, atol=1e-8)
    assert np.abs(dl).max() < 1e-8
