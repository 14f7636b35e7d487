"""The chain rule through a tiny 2-2-1 ReLU network, by hand and by autograd (docs/curriculum.md, A4).

Forward:  h_pre = x @ W1,  h = relu(h_pre),  out = h @ W2,  loss = (out - t)^2.
Backward, one local derivative at a time, each multiplied by the gradient from above:

    dL/dout   = 2 (out - t)
    dL/dW2    = h^T @ dL/dout          dL/dh     = dL/dout @ W2^T
    dL/dh_pre = dL/dh * [h_pre > 0]    (ReLU lets the gradient through only where it was active)
    dL/dW1    = x^T @ dL/dh_pre        dL/dx     = dL/dh_pre @ W1^T

The demo runs it twice: on the source's input (both ReLUs active) and on an input
that switches the second ReLU off, whose weights then get exactly zero gradient.
"""

from __future__ import annotations

import numpy as np
import torch

from glassgpt.demos._show import heading, say, table

NAME = "chain-rule"
SUMMARY = "the chain rule through a tiny 2-2-1 ReLU net, every intermediate by hand vs autograd (A4)"

W1 = [[0.5, -0.3], [0.2, 0.8]]
W2 = [[0.4], [-0.6]]
X_ACTIVE = [[1.0, 2.0]]
#: h_pre = [1*0.5 - 1*0.2, 1*(-0.3) - 1*0.8] = [0.3, -1.1]: the second ReLU is off
X_INACTIVE = [[1.0, -1.0]]
TARGET = 1.0


def by_hand(x, w1=W1, w2=W2, target=TARGET) -> dict[str, np.ndarray]:
    """Every forward and backward intermediate of the net, NumPy float64."""
    x, w1, w2 = (np.array(a, dtype=np.float64) for a in (x, w1, w2))
    h_pre = x @ w1
    h = np.maximum(h_pre, 0.0)
    out = h @ w2
    loss = (out - target) ** 2
    d_out = 2.0 * (out - target)
    d_w2 = h.T @ d_out
    d_h = d_out @ w2.T
    d_h_pre = d_h * (h_pre > 0)
    d_w1 = x.T @ d_h_pre
    d_x = d_h_pre @ w1.T
    return {
        "h_pre": h_pre,
        "h": h,
        "out": out,
        "loss": loss,
        "dL/dout": d_out,
        "dL/dW2": d_w2,
        "dL/dh": d_h,
        "dL/dh_pre": d_h_pre,
        "dL/dW1": d_w1,
        "dL/dx": d_x,
    }


def by_autograd(x, w1=W1, w2=W2, target=TARGET) -> dict[str, np.ndarray]:
    """The same quantities from torch autograd (float64, retain_grad on the intermediates)."""
    x, w1, w2 = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w1, w2))
    h_pre = x @ w1
    h = torch.relu(h_pre)
    out = h @ w2
    loss = (out - target) ** 2
    for t in (h_pre, h, out):
        t.retain_grad()
    loss.sum().backward()
    g = lambda t: t.detach().numpy().copy()  # noqa: E731
    return {
        "h_pre": g(h_pre),
        "h": g(h),
        "out": g(out),
        "loss": g(loss),
        "dL/dout": g(out.grad),
        "dL/dW2": g(w2.grad),
        "dL/dh": g(h.grad),
        "dL/dh_pre": g(h_pre.grad),
        "dL/dW1": g(w1.grad),
        "dL/dx": g(x.grad),
    }


def _fmt(a: np.ndarray) -> str:
    a = np.asarray(a) + 0.0  # + 0.0 turns -0.0 into 0.0
    if a.size == 1:
        return f"{a.item():.4f}"
    rows = [", ".join(f"{v:.4f}" for v in r) for r in a.reshape(a.shape[0], -1)]
    return rows[0] if len(rows) == 1 else "[" + "; ".join(rows) + "]"


def _walk(title: str, x) -> dict:
    hand = by_hand(x)
    auto = by_autograd(x)
    diffs = {k: float(np.abs(hand[k] - auto[k]).max()) for k in hand}
    table(
        ["quantity", "by hand (NumPy)", "autograd (torch)", "max |diff|"],
        [[k, _fmt(hand[k]), _fmt(auto[k]), f"{diffs[k]:.1e}"] for k in hand],
        title=title,
        align="lrrr",
    )
    return {
        "hand": {k: v.tolist() for k, v in hand.items()},
        "autograd": {k: v.tolist() for k, v in auto.items()},
        "max_diff": diffs,
    }


def run(plot: bool = False, out_dir: str = ".") -> dict:
    heading("A4  Chain rule through a tiny net: x -> x@W1 -> ReLU -> @W2 -> (out - t)^2")
    say(f"W1 = {W1}   W2 = {W2}   target t = {TARGET}")
    say("Matrices print row by row: [row 1; row 2].  Gradients have the shape of what they differentiate.")
    active = _walk(f"Both ReLUs active: x = {X_ACTIVE}", X_ACTIVE)
    say("Each backward line is (local derivative) x (gradient from above): the chain rule, applied right to left.")
    inactive = _walk(f"Second ReLU inactive: x = {X_INACTIVE}", X_INACTIVE)
    say(
        "h_pre[1] < 0, so ReLU outputs 0 and its derivative is 0: dL/dh_pre[1] = 0, the second column of "
        "dL/dW1 is zero, and so is dL/dW2[1] (it multiplies h[1] = 0).  Autograd agrees: a dead unit learns nothing."
    )
    if plot:
        say("(this demo has no figure: the tables are the picture)")
    return {"active": active, "inactive": inactive}
