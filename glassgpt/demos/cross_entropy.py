"""Cross-entropy written from scratch, checked against PyTorch, and its gradient (docs/curriculum.md, A3).

From scratch means four NumPy steps: subtract each row's max (so ``exp`` cannot
overflow), softmax, pick the probability of the target, ``-log`` and mean.  The same
numbers must come out of ``torch.nn.functional.cross_entropy``, and the analytic
gradient ``(softmax - onehot) / N`` must equal what autograd computes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from glassgpt.demos._show import heading, new_figure, num, save_figure, say, table

NAME = "cross-entropy"
SUMMARY = "cross-entropy from scratch vs torch.nn.functional.cross_entropy, and its gradient (A3)"

#: (N, C) shapes of the random comparisons
SHAPES = [(4, 5), (32, 10), (64, 1000)]
SEED = 0
CAT_SAT = [("The", "cat", 0.3), ("The cat", "sat", 0.7), ("The cat sat", "on", 0.1)]
LOGITS = [2.0, 1.0, 0.5, -1.0, 0.0]
LOGITS_TARGET = 0
#: the three points of the -ln p picture
LANDMARKS = [("terrible", 0.01), ("coin flip", 0.5), ("perfect", 1.0)]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of an (N, C) array, stable: the row max is subtracted first."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean over rows of -ln softmax(logits)[row, target]."""
    p = softmax(logits)
    picked = p[np.arange(len(targets)), targets]
    return float(-np.log(picked).mean())


def cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """d(mean loss)/d(logits) = (softmax - onehot) / N, shape (N, C)."""
    n, c = logits.shape
    return (softmax(logits) - np.eye(c)[targets]) / n


def compare_with_torch(shapes=SHAPES, seed: int = SEED) -> list[dict]:
    """Ours (NumPy, float64) vs PyTorch (float32 and float64) on seeded random (N, C) inputs."""
    rng = np.random.default_rng(seed)
    rows = []
    for n, c in shapes:
        logits = (rng.standard_normal((n, c)) * 3).astype(np.float32)
        targets = rng.integers(0, c, size=n)
        ours = cross_entropy(logits.astype(np.float64), targets)
        ours_grad = cross_entropy_grad(logits.astype(np.float64), targets)
        row = {"N": n, "C": c, "ours": ours}
        for dtype, name in [(torch.float32, "f32"), (torch.float64, "f64")]:
            x = torch.tensor(logits, dtype=dtype, requires_grad=True)
            loss = F.cross_entropy(x, torch.tensor(targets))
            loss.backward()
            row[f"torch_{name}"] = loss.item()
            row[f"loss_diff_{name}"] = abs(loss.item() - ours)
            row[f"grad_diff_{name}"] = float(np.abs(x.grad.numpy() - ours_grad).max())
        rows.append(row)
    return rows


def run(plot: bool = False, out_dir: str = ".") -> dict:
    heading("A3  Cross-entropy from scratch vs PyTorch")
    say("loss = mean_i -ln softmax(z_i)[y_i], softmax computed as exp(z - max z) / sum exp(z - max z)")

    rows = compare_with_torch()
    table(
        ["N x C", "ours (f64)", "torch f32", "|diff| f32", "|diff| f64", "max |grad diff| f32", "max |grad diff| f64"],
        [
            [
                f"{r['N']} x {r['C']}",
                num(r["ours"], 6),
                num(r["torch_f32"], 6),
                f"{r['loss_diff_f32']:.1e}",
                f"{r['loss_diff_f64']:.1e}",
                f"{r['grad_diff_f32']:.1e}",
                f"{r['grad_diff_f64']:.1e}",
            ]
            for r in rows
        ],
        title=f"Random logits (seed {SEED}, scale 3): loss and analytic gradient (softmax - onehot)/N vs autograd",
    )
    say("float32 inputs agree to ~1e-7 (float32 rounding); in float64 the two agree to ~1e-15.")

    # Why subtract the max: exp(1000) overflows in float64.
    big = np.array([[1000.0, 1001.0, 1002.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(big) / np.exp(big).sum()
    stable = softmax(big)
    say(
        f"Stability: softmax([1000, 1001, 1002]) naive = {np.array2string(naive[0], precision=4)}, "
        f"max-subtracted = {np.array2string(stable[0], precision=4)}"
    )

    # ---- worked values
    worked = {p: -math.log(p) for p in (0.7, 0.01)}
    landmarks = {name: (p, 0.0 - math.log(p)) for name, p in LANDMARKS}
    table(
        ["", "p(correct)", "loss = -ln p"],
        [["worked value", num(p, 2), num(l, 3)] for p, l in worked.items()]
        + [[name, num(p, 2), num(l, 3)] for name, (p, l) in landmarks.items()],
        title="-ln p: confident and right costs little, confident and wrong costs a lot",
    )

    # ---- per-token loss on "The cat sat on"
    tok_losses = [-math.log(p) for _, _, p in CAT_SAT]
    tok_mean = sum(tok_losses) / len(tok_losses)
    table(
        ["context", "next", "P", "-ln P"],
        [[c, t, num(p, 1), num(l, 3)] for (c, t, p), l in zip(CAT_SAT, tok_losses)]
        + [["mean", "", "", num(tok_mean, 3)]],
        title="Per-token loss on 'The cat sat on'",
        align="llrr",
    )

    # ---- logits -> probabilities -> gradient for one row
    z = np.array([LOGITS])
    probs = softmax(z)[0]
    grad = cross_entropy_grad(z, np.array([LOGITS_TARGET]))[0]
    table(
        ["class", "logit", "p", "dL/dlogit = p - onehot"],
        [
            [f"{i}{' (target)' if i == LOGITS_TARGET else ''}", num(l, 1, sign=True), num(p, 3), num(g, 3, sign=True)]
            for i, (l, p, g) in enumerate(zip(LOGITS, probs, grad))
        ],
        title=f"Logits {LOGITS}, target {LOGITS_TARGET}",
    )

    result = {
        "comparisons": rows,
        "worked": worked,
        "landmarks": landmarks,
        "token_losses": tok_losses,
        "token_mean": tok_mean,
        "probs": probs.tolist(),
        "grad": grad.tolist(),
        "naive_overflows": bool(np.isnan(naive).any()),
        "stable": stable[0].tolist(),
    }
    if plot:
        result["figure"] = _plot(landmarks, tok_losses, tok_mean, probs, grad, out_dir)
    return result


def _plot(landmarks, tok_losses, tok_mean, probs, grad, out_dir) -> str:
    plt, fig, axes = new_figure(1, 3, figsize=(15, 4.2))
    a1, a2, a3 = axes
    p = np.linspace(0.005, 1.0, 400)
    a1.plot(p, -np.log(p), color="tab:blue")
    for name, (pp, l) in landmarks.items():
        a1.scatter([pp], [l], zorder=3, color="tab:red")
        a1.annotate(
            f"{name}\np={pp}, loss={l:.2f}", (pp, l), textcoords="offset points", xytext=(-95 if pp > 0.9 else 8, 12)
        )
    a1.set(xlabel="p(correct token)", ylabel="loss = -ln p", title="cross-entropy of one prediction")
    labels = [f"{t}\nP={p}" for _, t, p in CAT_SAT]
    a2.bar(labels, tok_losses, color="tab:purple")
    a2.axhline(tok_mean, color="black", ls="--", label=f"mean {tok_mean:.3f}")
    for i, l in enumerate(tok_losses):
        a2.text(i, l, f"{l:.3f}", ha="center", va="bottom")
    a2.legend()
    a2.set_title("per-token loss, 'The cat sat on'")
    x = np.arange(len(LOGITS))
    w = 0.27
    a3.bar(x - w, LOGITS, w, label="logit")
    a3.bar(x, probs, w, label="p")
    a3.bar(x + w, grad, w, label="p - onehot")
    a3.axhline(0, color="black", lw=0.8)
    a3.set_xticks(x, [f"{i}{'*' if i == LOGITS_TARGET else ''}" for i in x])
    a3.set_title("logits -> probabilities -> gradient (* = target)")
    a3.legend()
    return save_figure(fig, out_dir, NAME)
