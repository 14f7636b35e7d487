"""Proof that the backprop-ninja gradients are right: each one against PyTorch autograd.

``compare_steps`` runs the lecture's network twice from the same weights and batch: once in
NumPy with the hand-written backward pass of ``makemore_mlp``, once on torch tensors through
the same ``forward_steps`` lines, each intermediate kept with ``retain_grad()`` so autograd
reports its gradient too.
Every intermediate becomes one row: exact (bit for bit)?, close (within its tolerance)?, the
largest absolute difference and the tolerance with the reason for it.
``compare_formulas`` shows the two one-formula shortcuts equal the step-by-step chain, and
``training_match`` trains the network on hand gradients (SGD) beside torch autograd on the
ladder's torch ``MLP`` and returns both loss curves.

Tolerances bound max |hand - torch| / max(1, max |torch|): absolute for gradients of size up
to 1 (almost all of them), relative above.  The two sides compute the same formulas in a
different order of floating-point operations, so they differ by roundoff that grows with the
number of terms summed and the number of steps back from the loss.
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

# float32 roundoff is ~6e-8 per operation.  Measured on the lecture's shapes (n 32, H 64,
# V 27) over six seeds, the worst max |hand - torch| is 7e-7 for probs (entries up to
# 1/(n p) are large), 2e-7 for counts_sum_inv, 9e-8 for counts, and at most 2.3e-8 for every
# other tensor; float64 gives the same pattern scaled by ~2^-29 (9e-16, 3e-16, 2e-16, then
# at most 6e-17).  Each tolerance keeps a ~10x margin above the worst seen, while a wrong
# formula is off by the size of the gradient itself (1e-3 and up).
#   name: (float32, float64, why)
TOLERANCES: dict[str, tuple[float, float, str]] = {
    "logprobs": (2e-7, 1e-15, "set directly from the targets: -1/n or 0"),
    "probs": (5e-6, 1e-14, "-1/(n p): large where the target's probability is small"),
    "counts_sum_inv": (2e-6, 5e-15, "a row sum of counts * dprobs"),
    "counts_sum": (2e-7, 1e-15, "-counts_sum^-2 times the previous"),
    "counts": (1e-6, 5e-15, "two paths added: through probs and through counts_sum"),
    "norm_logits": (2e-7, 1e-15, "counts * dcounts: the difference of two paths that nearly cancel"),
    "logit_maxes": (2e-7, 1e-15, "mathematically 0: only roundoff of a row sum is left"),
    "logits": (2e-7, 1e-15, "the loss-side chain, plus the max's (near-zero) share"),
    "h": (2e-7, 1e-15, "one matmul with W2"),
    "W2": (2e-7, 1e-15, "a sum over the batch of h * dlogits"),
    "b2": (2e-7, 1e-15, "a sum over the batch"),
    "hpreact": (2e-7, 1e-15, "through tanh' = 1 - h^2"),
    "bngain": (2e-7, 1e-15, "a sum over the batch of bnraw * dhpreact"),
    "bnbias": (2e-7, 1e-15, "a sum over the batch"),
    "bnraw": (2e-7, 1e-15, "bngain * dhpreact"),
    "bnvar_inv": (2e-7, 1e-15, "a sum over the batch of bndiff * dbnraw"),
    "bnvar": (2e-7, 1e-15, "-0.5 (var + eps)^-1.5: amplifies when the variance is small"),
    "bndiff2": (2e-7, 1e-15, "dbnvar / n"),
    "bndiff": (2e-7, 1e-15, "two paths: through bnraw and through the variance"),
    "bnmeani": (2e-7, 1e-15, "mathematically ~0: the batch sum of dbndiff cancels"),
    "hprebn": (2e-7, 1e-15, "the BatchNorm backward: paths through the mean and variance cancel"),
    "embcat": (2e-7, 1e-15, "one matmul with W1 behind the BatchNorm"),
    "W1": (2e-7, 1e-15, "a sum over the batch behind the BatchNorm"),
    "b1": (2e-7, 1e-15, "mathematically 0 (BatchNorm removes any bias): roundoff of a sum"),
    "emb": (2e-7, 1e-15, "a reshape of dembcat"),
    "C": (2e-7, 1e-15, "scatter-add of every position that read a row"),
}


def tolerance(name: str, dtype) -> tuple[float, str]:
    """(tolerance, reason) for the intermediate ``name`` in ``dtype`` (float32 or float64)."""
    tol32, tol64, why = TOLERANCES[name]
    return (tol64 if np.dtype(dtype) == np.float64 else tol32), why


@dataclass
class StepRow:
    name: str
    shape: tuple
    exact: bool  # bit-for-bit equal
    close: bool  # within the tolerance
    max_diff: float  # max |hand - torch|
    tol: float
    reason: str

    @property
    def ok(self) -> bool:
        return self.close


def _row(name: str, ours: np.ndarray, ref: np.ndarray, tol_name: str | None = None) -> StepRow:
    ours, ref = np.asarray(ours), np.asarray(ref)
    diff = float(np.max(np.abs(ours.astype(np.float64) - ref))) if ref.size else 0.0
    scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 0.0)
    tol, why = tolerance(tol_name or name, ref.dtype)
    return StepRow(name, tuple(ref.shape), bool(np.array_equal(ours, ref)), bool(diff <= tol * scale), diff, tol, why)


#: the forward pass's named functions for torch tensors (``torch.amax`` keeps the autograd graph)
TORCH = Ops(torch.tanh, torch.exp, torch.log, lambda x: x.amax(1, keepdim=True))


def torch_steps(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, eps: float = EPS):
    """The same forward pass (``forward_steps``, the same lines) on torch tensors, every
    intermediate kept with ``retain_grad`` so autograd reports its gradient.
    -> (loss, {name: gradient as a NumPy array} for every name of ``ORDER``)."""
    tensors = {name: torch.tensor(a, requires_grad=True) for name, a in params.items()}
    loss, acts = forward_steps(tensors, torch.from_numpy(X), torch.from_numpy(Y), eps, ops=TORCH)
    for t in acts.values():
        t.retain_grad()
    loss.backward()
    grads = {name: t.grad for name, t in acts.items()}
    grads.update({sym: t.grad for sym, t in lecture_params(tensors).items() if t is not None})
    return loss.item(), {name: grads[name].numpy() for name in ORDER if name in grads}


def compare_steps(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> list[StepRow]:
    """One row per intermediate of ``ORDER``: the hand-written gradient against autograd's."""
    _, acts = forward_steps(params, X, Y)
    hand = backward_steps(params, X, Y, acts)
    _, ref = torch_steps(params, X, Y)
    return [_row(name, hand[name], ref[name]) for name in ORDER if name in ref]


def compare_formulas(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> list[StepRow]:
    """The one-formula cross-entropy and BatchNorm backward passes against the step-by-step
    chain and against autograd."""
    _, acts = forward_steps(params, X, Y)
    chain = backward_steps(params, X, Y, acts)
    _, ref = torch_steps(params, X, Y)
    dlogits = cross_entropy_backward_formula(acts["logits"], Y)
    dhprebn = batchnorm_backward_formula(chain["hpreact"], acts, params)
    return [
        _row("logits: one formula vs the chain", dlogits, chain["logits"], "logits"),
        _row("logits: one formula vs autograd", dlogits, ref["logits"], "logits"),
        _row("hprebn: one formula vs the chain", dhprebn, chain["hprebn"], "hprebn"),
        _row("hprebn: one formula vs autograd", dhprebn, ref["hprebn"], "hprebn"),
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
