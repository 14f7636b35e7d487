"""Proof that the backprop-ninja gradients are right: each one against PyTorch autograd.

``compare_steps`` runs the lecture's forward lines (``forward_steps``) on torch tensors, each
intermediate kept with ``retain_grad()`` so autograd reports its gradient, and walks the
hand-written backward pass of ``backprop.backward_steps`` from the very same activations.
Every intermediate becomes one row: exact (bit for bit)?, close (within its bound)?, the largest
absolute difference, and that difference in rounding errors of the terms behind it.
``compare_formulas`` shows the two one-formula shortcuts equal the step-by-step chain, and
``training_match`` trains the network on hand gradients (SGD) beside torch autograd on the
ladder's torch ``MLP`` and returns both loss curves.

**Why one set of activations.**  NumPy's and torch's exp, tanh and matmul round differently,
so two forward passes give logits that differ by a few roundings of |h| @ |W2|; with the
lecture's unscaled N(0, 1) output weights that is ~200 rounding errors, and every softmax-side
gradient inherits it.  That would measure the forward pass, not the backward one under test.

**Why the size of the terms, not of the result.**  Many steps add terms that nearly cancel:
dcounts = dprobs / counts_sum + dcounts_sum is ~0 where the model is sure of the right
character, dbnvar_inv sums bndiff * dbnraw over the batch, and db1 is mathematically 0.  Each
term carries its own roundoff, so the difference of two correct computations is small next to
the terms, not next to their (cancelled) sum.  ``error_bounds`` runs the backward pass once
more with every factor replaced by its absolute value and every difference by a sum: for each
entry, the size of all the terms combined on the way from the loss.  Beside each line it
counts the roundings that line adds (a product rounds once, a sum of m terms m - 1 times,
Higham's bound for any order of summation; pow once more), on top of those of the gradient it
starts from.  One side's value is then within roundings × eps × size of the exact one, so
    |hand - torch| <= 2 × roundings × eps × size       (eps: 2^-52 float64, 2^-23 float32)
entry by entry: a bound, not a measurement.  Correct code stays below a few eps × size (the
roundings rarely add up), while a wrong formula is off by about the size of a whole term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from glassgpt.glass.optim import SGD
from glassgpt.makemore.backprop import (
    EPS,
    LECTURE_NAMES,
    ORDER,
    Ops,
    backward_steps,
    batchnorm_backward_formula,
    cross_entropy_backward_formula,
    forward_steps,
    lecture_params,
)
from glassgpt.makemore.backprop_fused import HandMLP
from glassgpt.makemore.models import MLP, MLPConfig


def error_bounds(
    params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, acts: dict[str, np.ndarray], eps: float = EPS
) -> dict[str, tuple[np.ndarray, int]]:
    """name -> (size, roundings) for every gradient of ``ORDER`` (see the module docstring):
    ``size`` like the gradient, in float64; ``roundings`` how many roundings one side's value
    can carry, in units of eps × size.  Each line mirrors the line of ``backward_steps``."""
    p = {
        sym: None if t is None else np.abs(np.asarray(t, dtype=np.float64)) for sym, t in lecture_params(params).items()
    }
    a = {name: np.asarray(t, dtype=np.float64) for name, t in acts.items()}
    n, V = a["logits"].shape
    H = a["h"].shape[1]
    s: dict[str, np.ndarray] = {}
    k: dict[str, int] = {}
    s["logprobs"] = np.zeros_like(a["logprobs"])
    s["logprobs"][np.arange(n), Y] = 1.0 / n
    k["logprobs"] = 1  # the constant -1/n
    s["probs"], k["probs"] = s["logprobs"] / np.abs(a["probs"]), k["logprobs"] + 2  # 1/p, then x
    # a row sum of V products
    s["counts_sum_inv"], k["counts_sum_inv"] = (a["counts"] * s["probs"]).sum(1, keepdims=True), k["probs"] + V
    s["counts_sum"], k["counts_sum"] = a["counts_sum"] ** -2 * s["counts_sum_inv"], k["counts_sum_inv"] + 3  # pow, x
    # two paths added: the (near-)cancelling pair behind the old "counts" failures
    s["counts"] = a["counts_sum_inv"] * s["probs"] + s["counts_sum"]
    k["counts"] = max(k["probs"] + 1, k["counts_sum"]) + 1
    s["norm_logits"], k["norm_logits"] = a["counts"] * s["counts"], k["counts"] + 1
    s["logit_maxes"], k["logit_maxes"] = s["norm_logits"].sum(1, keepdims=True), k["norm_logits"] + V - 1
    onehot_max = np.zeros_like(a["logits"])
    onehot_max[np.arange(n), a["logits"].argmax(1)] = 1.0
    s["logits"] = s["norm_logits"] + onehot_max * s["logit_maxes"]
    k["logits"] = max(k["norm_logits"], k["logit_maxes"]) + 1
    s["h"], k["h"] = s["logits"] @ p["W2"].T, k["logits"] + V  # V products summed
    s["W2"], k["W2"] = np.abs(a["h"]).T @ s["logits"], k["logits"] + n  # n products summed
    s["b2"], k["b2"] = s["logits"].sum(0), k["logits"] + n - 1
    # 1 - h^2 combines 1 and h^2: its rounding is relative to 1 + h^2, not to the (tiny) 1 - h^2
    s["hpreact"], k["hpreact"] = (1.0 + a["h"] ** 2) * s["h"], k["h"] + 3
    s["bngain"], k["bngain"] = (np.abs(a["bnraw"]) * s["hpreact"]).sum(0), k["hpreact"] + n
    s["bnbias"], k["bnbias"] = s["hpreact"].sum(0), k["hpreact"] + n - 1
    s["bnraw"], k["bnraw"] = p["bngain"] * s["hpreact"], k["hpreact"] + 1
    # a batch sum whose terms cancel: the old "bnvar_inv" failures
    s["bnvar_inv"], k["bnvar_inv"] = (np.abs(a["bndiff"]) * s["bnraw"]).sum(0, keepdims=True), k["bnraw"] + n
    s["bnvar"], k["bnvar"] = 0.5 * (a["bnvar"] + eps) ** -1.5 * s["bnvar_inv"], k["bnvar_inv"] + 4  # pow, x, x
    s["bndiff2"], k["bndiff2"] = np.ones_like(a["bndiff2"]) * s["bnvar"] / n, k["bnvar"] + 2  # 1/n, x
    s["bndiff"] = a["bnvar_inv"] * s["bnraw"] + 2 * np.abs(a["bndiff"]) * s["bndiff2"]
    k["bndiff"] = max(k["bnraw"] + 1, k["bndiff2"] + 2) + 1
    s["bnmeani"], k["bnmeani"] = s["bndiff"].sum(0, keepdims=True), k["bndiff"] + n - 1
    s["hprebn"] = s["bndiff"] + s["bnmeani"] / n
    k["hprebn"] = max(k["bndiff"], k["bnmeani"] + 2) + 1
    s["embcat"], k["embcat"] = s["hprebn"] @ p["W1"].T, k["hprebn"] + H  # H products summed
    s["W1"], k["W1"] = np.abs(a["embcat"]).T @ s["hprebn"], k["hprebn"] + n
    if p["b1"] is not None:
        s["b1"], k["b1"] = s["hprebn"].sum(0), k["hprebn"] + n - 1  # mathematically 0: all cancellation
    s["emb"], k["emb"] = s["embcat"].reshape(a["emb"].shape), k["embcat"]
    # every position that read a row of C adds to it: at most n * block terms
    s["C"] = np.zeros_like(p["C"])
    np.add.at(s["C"], X, s["emb"])
    k["C"] = k["emb"] + X.size - 1
    return {name: (s[name], k[name]) for name in ORDER if name in s}


@dataclass
class StepRow:
    name: str
    shape: tuple
    exact: bool  # bit-for-bit equal
    max_diff: float  # max |hand - torch|
    error: float  # max over the entries of |hand - torch| / (eps × size): rounding errors of the terms
    bound: int  # 2 × roundings: the most both sides together can carry

    @property
    def close(self) -> bool:
        return bool(self.error <= self.bound)  # False for nan

    @property
    def ok(self) -> bool:
        return self.close


def _row(name: str, ours: np.ndarray, ref: np.ndarray, size: np.ndarray, roundings: int) -> StepRow:
    ours, ref = np.asarray(ours), np.asarray(ref)
    info = np.finfo(ref.dtype)
    same = ours == ref  # equal infinities count as equal; nan never does
    diff = np.where(same, 0.0, np.abs(ours.astype(np.float64) - ref))
    # below the smallest normal number the roundoff is absolute, not relative: the tiny floor
    error = float(np.max(diff / (info.eps * size + info.tiny))) if ref.size else 0.0
    max_diff = float(np.max(diff)) if ref.size else 0.0
    return StepRow(name, tuple(ref.shape), bool(same.all()), max_diff, error, 2 * roundings)


#: the forward pass's named functions for torch tensors (``torch.amax`` keeps the autograd graph)
TORCH = Ops(torch.tanh, torch.exp, torch.log, lambda x: x.amax(1, keepdim=True))


def torch_steps(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, eps: float = EPS):
    """The same forward pass (``forward_steps``, the same lines) on torch tensors, every
    intermediate kept with ``retain_grad`` so autograd reports its gradient.  -> (loss,
    {name: gradient} for every name of ``ORDER``, {name: activation}), NumPy arrays."""
    tensors = {name: torch.tensor(a, requires_grad=True) for name, a in params.items()}
    loss, acts = forward_steps(tensors, torch.from_numpy(X), torch.from_numpy(Y), eps, ops=TORCH)
    for t in acts.values():
        t.retain_grad()
    loss.backward()
    grads = {name: t.grad for name, t in acts.items()}
    grads.update({sym: t.grad for sym, t in lecture_params(tensors).items() if t is not None})
    values = {name: t.detach().numpy() for name, t in acts.items()}
    return loss.item(), {name: grads[name].numpy() for name in ORDER if name in grads}, values


def compare_steps(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> list[StepRow]:
    """One row per intermediate of ``ORDER``: the hand-written gradient against autograd's,
    both from torch's activations."""
    _, ref, acts = torch_steps(params, X, Y)
    hand = backward_steps(params, X, Y, acts)
    bounds = error_bounds(params, X, Y, acts)
    return [_row(name, hand[name], ref[name], *bounds[name]) for name in ORDER if name in ref]


def compare_formulas(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> list[StepRow]:
    """The one-formula cross-entropy and BatchNorm backward passes against the step-by-step
    chain and against autograd.  Each formula's terms are among the chain's and it rounds
    fewer times (one row sum of V for the softmax, two batch sums for BatchNorm), so the
    chain's size and roundings bound it too."""
    _, ref, acts = torch_steps(params, X, Y)
    chain = backward_steps(params, X, Y, acts)
    bounds = error_bounds(params, X, Y, acts)
    dlogits = cross_entropy_backward_formula(acts["logits"], Y)
    dhprebn = batchnorm_backward_formula(chain["hpreact"], acts, params)
    return [
        _row("logits: one formula vs the chain", dlogits, chain["logits"], *bounds["logits"]),
        _row("logits: one formula vs autograd", dlogits, ref["logits"], *bounds["logits"]),
        _row("hprebn: one formula vs the chain", dhprebn, chain["hprebn"], *bounds["hprebn"]),
        _row("hprebn: one formula vs autograd", dhprebn, ref["hprebn"], *bounds["hprebn"]),
    ]


@dataclass
class TrainingMatch:
    hand_losses: list[float]
    torch_losses: list[float]
    max_param_diff: float  # max |hand - torch| over every weight and running statistic at the end

    @property
    def max_loss_diff(self) -> float:
        return float(np.max(np.abs(np.subtract(self.hand_losses, self.torch_losses))))


def torch_mlp_for(params: dict[str, np.ndarray], bn_momentum: float = 0.001) -> MLP:
    """The ladder's torch ``MLP`` with BatchNorm holding a copy of ``params`` (in their dtype)."""
    C, W1 = params[LECTURE_NAMES["C"]], params[LECTURE_NAMES["W1"]]
    cfg = MLPConfig(
        vocab_size=C.shape[0],
        block_size=W1.shape[0] // C.shape[1],
        n_embd=C.shape[1],
        n_hidden=W1.shape[1],
        batchnorm=True,
        bn_momentum=bn_momentum,
        hidden_bias=LECTURE_NAMES["b1"] in params,
    )
    model = MLP(cfg, torch.Generator().manual_seed(0)).to(torch.from_numpy(C).dtype)
    model.load_weights({name: torch.from_numpy(a.copy()) for name, a in params.items()})
    return model


def training_match(
    params: dict[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    steps: int = 20,
    batch_size: int = 32,
    lr: float = 0.1,
    seed: int = 0,
    bn_momentum: float = 0.001,
) -> TrainingMatch:
    """Train from ``params`` with SGD for ``steps`` steps on the same seeded batches of (X, Y):
    NumPy on hand gradients (``HandMLP``) and torch autograd on the ladder's ``MLP``."""
    hand = HandMLP({k: v.copy() for k, v in params.items()}, bn_momentum=bn_momentum)
    opt = SGD(hand.trained(), lr=lr)
    model = torch_mlp_for(params, bn_momentum).train()
    topt = torch.optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    hand_losses, torch_losses = [], []
    for _ in range(steps):
        ix = rng.integers(0, len(X), size=batch_size)
        hand_losses.append(hand.train_step(X[ix], Y[ix], opt))
        _, loss = model(torch.from_numpy(X[ix]), torch.from_numpy(Y[ix]))
        topt.zero_grad(set_to_none=True)
        loss.backward()
        topt.step()
        torch_losses.append(loss.item())
    final = model.weights()
    diff = max(float(np.max(np.abs(hand.params[name] - final[name].numpy()))) for name in hand.params)
    return TrainingMatch(hand_losses, torch_losses, diff)
