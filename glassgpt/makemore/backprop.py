"""Becoming a backprop ninja: the MLP + BatchNorm of the makemore ladder, backpropagated by hand.

The network (one batch of n examples, context ``block``, embedding E, hidden H, vocabulary V):

    emb     = C[X]                         (n, block, E)   look up each character's vector
    embcat  = emb.reshape(n, block*E)                      concatenate the context
    hprebn  = embcat @ W1 + b1             (n, H)          hidden layer, before BatchNorm
    bnmeani = mean(hprebn, axis 0)                         batch mean ...
    bndiff  = hprebn - bnmeani
    bndiff2 = bndiff ** 2
    bnvar   = mean(bndiff2, axis 0)                        ... and (biased) batch variance
    bnvar_inv = (bnvar + eps) ** -0.5
    bnraw   = bndiff * bnvar_inv                           normalised: mean 0, variance 1
    hpreact = bngain * bnraw + bnbias                      scaled and shifted
    h       = tanh(hpreact)
    logits  = h @ W2 + b2                  (n, V)
    logit_maxes = max(logits, axis 1)                      cross-entropy, one small step a line:
    norm_logits = logits - logit_maxes                     shift for a safe exp
    counts  = exp(norm_logits)
    counts_sum = sum(counts, axis 1)
    counts_sum_inv = counts_sum ** -1
    probs   = counts * counts_sum_inv                      softmax
    logprobs = log(probs)
    loss    = -mean(logprobs[range(n), Y])

``backward_steps`` walks it backwards one line at a time, each gradient made from the one
after it by the chain rule, in the order logprobs, probs, counts_sum_inv, counts_sum, counts,
norm_logits, logit_maxes, logits, h, W2, b2, hpreact, bngain, bnbias, bnraw, bnvar_inv,
bnvar, bndiff2, bndiff, bnmeani, hprebn, embcat, W1, b1, emb, C.  Three rules do all the
work: a *broadcast* in the forward pass is a *sum* in the backward pass (bnmeani was
subtracted from every row, so its gradient sums over rows); a variable used twice collects
both gradients (bndiff feeds bndiff2 and bnraw; counts feeds probs and counts_sum); and a
lookup scatters its gradient back to the rows it read (C).

Then the two shortcuts: the whole cross-entropy collapses to dlogits = (softmax - onehot)/n,
and the whole BatchNorm block to one line (``glassgpt.glass.cross_entropy`` and
``glassgpt.glass.batchnorm`` hold those fused forms; ``makemore.backprop_fused`` trains with them).

The variance: the lecture divides by n - 1 (Bessel) when normalising the batch; this network
divides by n, like ``torch.nn.BatchNorm1d`` and the ladder's ``BatchNorm1d`` layer, so the
one-formula backward is exactly the fused BatchNorm of ``glassgpt.glass.batchnorm``.

Parameters live in a dict under the torch ``MLP``'s names (``C.weight``, ``hidden.weight`` ...);
``LECTURE_NAMES`` maps the lecture's symbols onto them.  Weights are stored (in, out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from glassgpt.errors import ConfigError
from glassgpt.glass.batchnorm import BatchNormCache, batchnorm_backward
from glassgpt.glass.cross_entropy import softmax_cross_entropy_backward, softmax_cross_entropy_forward

#: lecture symbol -> parameter name of ``glassgpt.makemore.models.MLP``
LECTURE_NAMES = {
    "C": "C.weight",
    "W1": "hidden.weight",
    "b1": "hidden.bias",
    "bngain": "bn.gamma",
    "bnbias": "bn.beta",
    "W2": "out.weight",
    "b2": "out.bias",
}
#: the BatchNorm buffers (not trained by gradients)
RUNNING = ("bn.running_mean", "bn.running_var")
#: the order in which ``backward_steps`` produces its gradients (the lecture's)
ORDER = (
    "logprobs",
    "probs",
    "counts_sum_inv",
    "counts_sum",
    "counts",
    "norm_logits",
    "logit_maxes",
    "logits",
    "h",
    "W2",
    "b2",
    "hpreact",
    "bngain",
    "bnbias",
    "bnraw",
    "bnvar_inv",
    "bnvar",
    "bndiff2",
    "bndiff",
    "bnmeani",
    "hprebn",
    "embcat",
    "W1",
    "b1",
    "emb",
    "C",
)
EPS = 1e-5


def init_params(
    vocab_size: int = 27, block_size: int = 3, n_embd: int = 10, n_hidden: int = 64, seed: int = 42, dtype=np.float64
) -> dict[str, np.ndarray]:
    """The lecture's exercise weights: Kaiming W1, and small *random* b1, W2, b2, bngain - 1 and
    bnbias — never zeros or ones, which could hide a wrong backward formula (a gradient
    multiplied by an all-zero tensor looks right whatever it is)."""
    rng = np.random.default_rng(seed)
    fan_in = block_size * n_embd

    def randn(*shape):
        return rng.standard_normal(shape)

    params = {
        "C.weight": randn(vocab_size, n_embd),
        "hidden.weight": randn(fan_in, n_hidden) * (5 / 3) / fan_in**0.5,
        "hidden.bias": randn(n_hidden) * 0.1,  # useless before BatchNorm, kept to check its gradient
        "bn.gamma": randn(n_hidden) * 0.1 + 1.0,
        "bn.beta": randn(n_hidden) * 0.1,
        "out.weight": randn(n_hidden, vocab_size) * 0.1,
        "out.bias": randn(vocab_size) * 0.1,
        "bn.running_mean": np.zeros(n_hidden),
        "bn.running_var": np.ones(n_hidden),
    }
    return {k: v.astype(dtype) for k, v in params.items()}


def lecture_params(params: dict) -> dict:
    """The parameters under the lecture's symbols (b1 is None for a bias-free hidden layer)."""
    return {sym: params.get(name) for sym, name in LECTURE_NAMES.items()}


@dataclass(frozen=True)
class Ops:
    """The few array functions the forward pass calls by name.  Everything else in it is
    arithmetic, indexing and ``.sum(axis, keepdims=True)``, which NumPy arrays and torch tensors
    share — so the very same lines run on NumPy (for the hand backward pass) and on torch
    tensors (for the autograd reference in ``makemore.backprop_check``)."""

    tanh: Callable
    exp: Callable
    log: Callable
    rowmax: Callable


NUMPY = Ops(np.tanh, np.exp, np.log, lambda x: x.max(1, keepdims=True))


def forward_steps(params: dict, X, Y, eps: float = EPS, ops: Ops = NUMPY):
    """The training-mode forward pass, one line per intermediate.  -> (loss, acts: name -> array)."""
    if LECTURE_NAMES["bngain"] not in params:
        raise ConfigError(
            "the step-by-step backward pass is written for the MLP with BatchNorm; "
            "train the mlp with batchnorm on to walk its gradients."
        )
    p = lecture_params(params)
    n = X.shape[0]
    a: dict = {}
    a["emb"] = p["C"][X]
    a["embcat"] = a["emb"].reshape(n, -1)
    a["hprebn"] = a["embcat"] @ p["W1"] + (0 if p["b1"] is None else p["b1"])
    a["bnmeani"] = 1 / n * a["hprebn"].sum(0, keepdims=True)
    a["bndiff"] = a["hprebn"] - a["bnmeani"]
    a["bndiff2"] = a["bndiff"] ** 2
    a["bnvar"] = 1 / n * a["bndiff2"].sum(0, keepdims=True)
    a["bnvar_inv"] = (a["bnvar"] + eps) ** -0.5
    a["bnraw"] = a["bndiff"] * a["bnvar_inv"]
    a["hpreact"] = p["bngain"] * a["bnraw"] + p["bnbias"]
    a["h"] = ops.tanh(a["hpreact"])
    a["logits"] = a["h"] @ p["W2"] + p["b2"]
    a["logit_maxes"] = ops.rowmax(a["logits"])
    a["norm_logits"] = a["logits"] - a["logit_maxes"]
    a["counts"] = ops.exp(a["norm_logits"])
    a["counts_sum"] = a["counts"].sum(1, keepdims=True)
    a["counts_sum_inv"] = a["counts_sum"] ** -1
    a["probs"] = a["counts"] * a["counts_sum_inv"]
    a["logprobs"] = ops.log(a["probs"])
    loss = -a["logprobs"][np.arange(n), Y].mean()
    return loss, a


def backward_steps(
    params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, acts: dict[str, np.ndarray], eps: float = EPS
) -> dict[str, np.ndarray]:
    """d loss / d (every intermediate and parameter), in ``ORDER``, each from the one before."""
    p, a = lecture_params(params), acts
    n = X.shape[0]
    d: dict[str, np.ndarray] = {}
    # loss = -mean of the picked log-probabilities: each picked one gets -1/n, the rest 0
    d["logprobs"] = np.zeros_like(a["logprobs"])
    d["logprobs"][np.arange(n), Y] = -1.0 / n
    d["probs"] = (1.0 / a["probs"]) * d["logprobs"]  # d log(x) = 1/x
    # probs = counts * counts_sum_inv: the (n, 1) factor was broadcast over V columns -> sum them
    d["counts_sum_inv"] = (a["counts"] * d["probs"]).sum(1, keepdims=True)
    d["counts_sum"] = -(a["counts_sum"] ** -2) * d["counts_sum_inv"]  # d x^-1 = -x^-2
    # counts is used twice: directly in probs, and through counts_sum (every entry adds with weight 1)
    d["counts"] = a["counts_sum_inv"] * d["probs"] + np.ones_like(a["counts"]) * d["counts_sum"]
    d["norm_logits"] = a["counts"] * d["counts"]  # d exp(x) = exp(x)
    # norm_logits = logits - logit_maxes: the max was broadcast over the row -> minus the row sum
    d["logit_maxes"] = -d["norm_logits"].sum(1, keepdims=True)  # ~0: the shift changes nothing
    # logits reach the loss directly and through the max, which routes to the argmax only
    onehot_max = np.zeros_like(a["logits"])
    onehot_max[np.arange(n), a["logits"].argmax(1)] = 1.0
    d["logits"] = d["norm_logits"] + onehot_max * d["logit_maxes"]
    # logits = h @ W2 + b2
    d["h"] = d["logits"] @ p["W2"].T
    d["W2"] = a["h"].T @ d["logits"]
    d["b2"] = d["logits"].sum(0)
    d["hpreact"] = (1.0 - a["h"] ** 2) * d["h"]  # d tanh = 1 - tanh^2
    # hpreact = bngain * bnraw + bnbias (gain and bias broadcast over the batch -> sums)
    d["bngain"] = (a["bnraw"] * d["hpreact"]).sum(0)
    d["bnbias"] = d["hpreact"].sum(0)
    d["bnraw"] = p["bngain"] * d["hpreact"]
    # bnraw = bndiff * bnvar_inv
    d["bnvar_inv"] = (a["bndiff"] * d["bnraw"]).sum(0, keepdims=True)
    d["bnvar"] = -0.5 * (a["bnvar"] + eps) ** -1.5 * d["bnvar_inv"]
    d["bndiff2"] = 1.0 / n * np.ones_like(a["bndiff2"]) * d["bnvar"]  # a mean spreads evenly
    # bndiff is used twice: in bnraw and in bndiff2
    d["bndiff"] = a["bnvar_inv"] * d["bnraw"] + 2 * a["bndiff"] * d["bndiff2"]
    d["bnmeani"] = -d["bndiff"].sum(0, keepdims=True)
    # hprebn reaches bndiff directly and through the mean
    d["hprebn"] = d["bndiff"] + 1.0 / n * np.ones_like(a["hprebn"]) * d["bnmeani"]
    # hprebn = embcat @ W1 + b1
    d["embcat"] = d["hprebn"] @ p["W1"].T
    d["W1"] = a["embcat"].T @ d["hprebn"]
    if p["b1"] is not None:
        d["b1"] = d["hprebn"].sum(0)
    d["emb"] = d["embcat"].reshape(a["emb"].shape)
    # emb = C[X]: every position adds its gradient to the row of C it read
    d["C"] = np.zeros_like(p["C"])
    np.add.at(d["C"], X, d["emb"])
    return {name: d[name] for name in ORDER if name in d}


def cross_entropy_backward_formula(logits: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The cross-entropy block in one formula: dlogits = (softmax(logits) - onehot(Y)) / n —
    the fused loss of ``glassgpt.glass.cross_entropy``, which the glass GPT trains with too."""
    _, cache = softmax_cross_entropy_forward(logits, Y)
    return softmax_cross_entropy_backward(1.0, cache)


def batchnorm_backward_formula(
    dhpreact: np.ndarray, acts: dict[str, np.ndarray], params: dict[str, np.ndarray]
) -> np.ndarray:
    """The BatchNorm block in one formula (``glassgpt.glass.batchnorm``, biased variance):
        dhprebn = bngain * bnvar_inv / n * (n * dhpreact - sum(dhpreact) - bnraw * sum(dhpreact * bnraw))
    from the intermediates of ``forward_steps``: bnraw is the normalised x, bnvar_inv the 1/std."""
    cache = BatchNormCache(acts["bnraw"], acts["bnvar_inv"][0], params[LECTURE_NAMES["bngain"]], True)
    dhprebn, _, _ = batchnorm_backward(dhpreact, cache)
    return dhprebn
