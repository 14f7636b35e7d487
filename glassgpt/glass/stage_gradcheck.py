"""Proof that the hand-written gradients of the stages after fine-tuning are right.

``check_stage_losses(dtype, seed)`` draws random logits, targets, scores, advantages and
log-probabilities, runs each NumPy forward/backward pair (``glass.bradley_terry``,
``glass.dpo``, ``glass.policy_gradient``) and torch's autograd of the losses the engine
trains with (``models.stage_losses``) on the same numbers, and compares the losses and the
gradients with respect to the logits (the scores, for Bradley–Terry), each with the tolerance
written beside it in ``TOLERANCES``.  The error is relative to the tensor's scale, as in
``glass.gradcheck``.  The policy gradient is checked twice: on a fresh rollout (ratio 1,
REINFORCE) and on a reused one with PPO clipping and the KL penalty on, where some tokens are
clipped and must get exactly no surrogate gradient.
"""

from __future__ import annotations

import numpy as np
import torch

from glassgpt.glass import bradley_terry as BT
from glassgpt.glass import dpo as DPO
from glassgpt.glass import policy_gradient as PG
from glassgpt.glass.gradcheck import CheckRow, relative_error
from glassgpt.models import stage_losses as losses

# name -> (float32 tolerance, float64 tolerance, why).  float64: the two sides compute the same
# formulas in different orders, so they agree to ~1e-15 relative; 1e-12 leaves a margin of 1000
# while a wrong sign or factor gives an error of order 1.  float32: a few roundings of ~6e-8 per
# operation, through exp and log-softmax sums over the vocabulary: ~1e-6 measured, 1e-5 allowed.
TOLERANCES = {
    "bradley_terry loss": (1e-6, 1e-12, "a mean of log(1 + e^-d)"),
    "bradley_terry dscores": (1e-6, 1e-12, "one sigmoid per pair"),
    "dpo loss": (1e-5, 1e-12, "log-softmax sums over the vocabulary, then over the reply"),
    "dpo dlogits chosen": (1e-5, 1e-12, "softmax of every position of the reply, times one scalar per pair"),
    "dpo dlogits rejected": (1e-5, 1e-12, "the same, with the opposite sign"),
    "dpo+nll loss": (1e-5, 1e-12, "as dpo, plus α times the chosen replies' per-token NLL"),
    "dpo+nll dlogits chosen": (1e-5, 1e-12, "as dpo, the per-pair scalar less α/(N n_w)"),
    "dpo+nll dlogits rejected": (1e-5, 1e-12, "as dpo: the NLL term does not read the rejected reply"),
    "policy_gradient loss": (1e-5, 1e-12, "ratios and k3 per generated token, averaged"),
    "policy_gradient dlogits": (1e-5, 1e-12, "softmax per position times the per-token weight"),
    "ppo+kl loss": (1e-5, 1e-12, "as above, clipped surrogate and the KL penalty on"),
    "ppo+kl dlogits": (1e-5, 1e-12, "zero surrogate gradient where clipped, plus β(1 − e^δ)"),
}


def _row(rows: list[CheckRow], name: str, actual, expected, dtype: str) -> None:
    diff, rel = relative_error(actual, expected)
    tol32, tol64, why = TOLERANCES[name]
    rows.append(CheckRow(name, tuple(np.shape(expected)), diff, rel, tol64 if dtype == "float64" else tol32, why))


def _targets(rng: np.random.Generator, n: int, t: int, v: int) -> np.ndarray:
    """Targets with a prompt (-1) of random length, then the reply, then padding (-1)."""
    targets = np.full((n, t), -1, dtype=np.int64)
    for i in range(n):
        start = int(rng.integers(0, t // 2))
        stop = int(rng.integers(start + 1, t + 1))
        targets[i, start:stop] = rng.integers(0, v, stop - start)
    return targets


def check_stage_losses(dtype: str = "float64", seed: int = 0, n: int = 6, t: int = 7, v: int = 11) -> list[CheckRow]:
    """Every check of the module docstring, as rows like ``glass.gradcheck``'s."""
    rng = np.random.default_rng(seed)
    np_dtype, torch_dtype = np.dtype(dtype), {"float32": torch.float32, "float64": torch.float64}[dtype]
    rows: list[CheckRow] = []

    def tensor(a: np.ndarray, grad: bool = False) -> torch.Tensor:
        return torch.tensor(a, dtype=torch_dtype if a.dtype.kind == "f" else None, requires_grad=grad)

    # Bradley–Terry on scores
    rc, rr = (rng.normal(0, 2, n).astype(np_dtype) for _ in range(2))
    loss, cache = BT.bradley_terry_forward(rc, rr, margin=0.5)
    dc, dr = BT.bradley_terry_backward(1.0, cache)
    tc, tr = tensor(rc, True), tensor(rr, True)
    ref = losses.bradley_terry(tc, tr, margin=0.5)
    ref.backward()
    _row(rows, "bradley_terry loss", loss, ref.detach().numpy(), dtype)
    _row(rows, "bradley_terry dscores", np.stack([dc, dr]), np.stack([tc.grad.numpy(), tr.grad.numpy()]), dtype)

    # DPO on the logits of both replies
    lw, ll = (rng.normal(0, 1.5, (n, t, v)).astype(np_dtype) for _ in range(2))
    yw, yl = _targets(rng, n, t, v), _targets(rng, n, t, v)
    ref_w, ref_l = (rng.normal(-8, 2, n).astype(np_dtype) for _ in range(2))
    tokens_w = losses.reply_tokens(torch.from_numpy(yw))
    for name, nll in (("dpo", 0.0), ("dpo+nll", 0.5)):
        loss, cache = DPO.dpo_forward(lw, yw, ll, yl, ref_w, ref_l, beta=0.3, nll=nll)
        dw, dl = DPO.dpo_backward(1.0, cache)
        tw, tl = tensor(lw, True), tensor(ll, True)
        pw = losses.token_logprobs(tw, torch.from_numpy(yw)).sum(-1).to(torch_dtype)
        pl = losses.token_logprobs(tl, torch.from_numpy(yl)).sum(-1).to(torch_dtype)
        ref, _, _ = losses.dpo(pw, pl, tensor(ref_w), tensor(ref_l), 0.3, nll, tokens_w)
        ref.backward()
        _row(rows, f"{name} loss", loss, ref.detach().numpy(), dtype)
        _row(rows, f"{name} dlogits chosen", dw, tw.grad.numpy(), dtype)
        _row(rows, f"{name} dlogits rejected", dl, tl.grad.numpy(), dtype)

    # the policy gradient: a fresh rollout, then a reused one with clipping and the KL penalty
    logits = rng.normal(0, 1.5, (n, t, v)).astype(np_dtype)
    targets = _targets(rng, n, t, v)
    advantages = rng.normal(0, 1, n).astype(np_dtype)
    current = DPO.token_logprobs(logits, targets)[0]
    for name, old, beta, clip in (
        ("policy_gradient", current, 0.0, 0.0),
        ("ppo+kl", current + rng.normal(0, 0.3, current.shape).astype(np_dtype), 0.2, 0.2),
    ):
        ref_lp = (current + rng.normal(0, 0.5, current.shape)).astype(np_dtype)
        loss, cache = PG.policy_gradient_forward(logits, targets, old, ref_lp, advantages, beta, clip)
        dlogits = PG.policy_gradient_backward(1.0, cache)
        tl = tensor(logits, True)
        y = torch.from_numpy(targets)
        logp = losses.token_logprobs(tl, y).to(torch_dtype)
        ref, _, _ = losses.policy_gradient(logp, tensor(old), tensor(ref_lp), tensor(advantages), y >= 0, beta, clip)
        ref.backward()
        _row(rows, f"{name} loss", loss, ref.detach().numpy(), dtype)
        _row(rows, f"{name} dlogits", dlogits, tl.grad.numpy(), dtype)
    return rows
