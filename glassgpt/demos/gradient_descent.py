"""Gradient descent by hand on L(w) = (w - 3)^2 (docs/curriculum.md, A6).

The gradient 2(w - 3) points uphill, so the update ``w <- w - lr * grad`` walks
downhill.  On this parabola each step shrinks the distance to the minimum by the
factor (1 - 2 lr): lr 0.1 closes 20% of the gap per step, lr 1 jumps exactly over
the minimum and back forever, and any lr > 1 overshoots further each time (diverges).
"""

from __future__ import annotations

import numpy as np

from glassgpt.demos._show import heading, new_figure, num, save_figure, say, table

NAME = "gradient-descent"
SUMMARY = "gradient descent by hand on L(w) = (w - 3)^2; ascent vs descent; choosing the learning rate (A6)"

MINIMUM = 3.0
W0 = 0.0
LR = 0.1
STEPS = 8
LR_PARAM, LR_GRAD = 0.5, -0.2
LR_GRID = [0.001, 0.01, 0.1, 1.0, 10.0]


def loss(w: float) -> float:
    return (w - MINIMUM) ** 2


def grad(w: float) -> float:
    return 2.0 * (w - MINIMUM)


def descend(w0: float = W0, lr: float = LR, steps: int = STEPS) -> list[tuple[int, float, float, float]]:
    """(step, w, L(w), dL/dw) before each update, then the final (steps, w, L, grad)."""
    rows, w = [], w0
    for step in range(steps + 1):
        rows.append((step, w, loss(w), grad(w)))
        w = w - lr * grad(w)
    return rows


def verdict(lr: float, w0: float = W0, steps: int = STEPS) -> tuple[float, str]:
    """Run ``steps`` steps on the parabola; judge by the distance left / distance at start."""
    w = descend(w0, lr, steps)[-1][1]
    shrink = abs(w - MINIMUM) / abs(w0 - MINIMUM)
    if shrink > 1.0 + 1e-9:
        return shrink, "diverges"
    if abs(shrink - 1.0) <= 1e-9:
        return shrink, "unstable: bounces, never settles"
    if shrink > 0.9:
        return shrink, "too small: barely moves"
    if shrink > 0.5:
        return shrink, "slow"
    return shrink, "good"


def run(plot: bool = False, out_dir: str = ".") -> dict:
    heading("A6  Gradient descent by hand: L(w) = (w - 3)^2, dL/dw = 2(w - 3)")
    rows = descend()
    table(
        ["step", "w", "L(w)", "dL/dw"],
        [[s, num(w, 4), num(l, 4), num(g, 4)] for s, w, l, g in rows[:-1]]
        + [["final", num(rows[-1][1], 4), num(rows[-1][2], 4), num(rows[-1][3], 4)]],
        title=f"w0 = {W0}, lr = {LR}: w <- w - lr * dL/dw",
    )
    say(
        f"Each step keeps a factor (1 - 2 lr) = {1 - 2 * LR:.1f} of the distance to 3: after {STEPS} steps "
        f"3 - w = 3 x {1 - 2 * LR:.1f}^{STEPS} = {MINIMUM - rows[-1][1]:.4f}."
    )

    # ---- ascent vs descent from w = 1
    w = 1.0
    g = grad(w)
    ascent, descent = w + LR * g, w - LR * g
    table(
        ["", "w", "L(w)"],
        [
            ["start", num(w, 1), num(loss(w), 2)],
            ["ascent  w + lr g", num(ascent, 1), num(loss(ascent), 2)],
            ["descent w - lr g", num(descent, 1), num(loss(descent), 2)],
        ],
        title=f"Which way? From w = 1: L = {loss(w):.0f}, gradient {g:.0f}, lr {LR}",
    )
    say("The gradient points where L grows; stepping against it (descent) is what lowers the loss.")

    # ---- learning rates
    lr_rows = []
    for lr in LR_GRID:
        new = LR_PARAM - lr * LR_GRAD
        shrink, word = verdict(lr)
        lr_rows.append({"lr": lr, "new": new, "change": new - LR_PARAM, "shrink": shrink, "verdict": word})
    table(
        ["lr", f"{LR_PARAM} - lr x ({LR_GRAD})", "change", f"|w - 3| left after {STEPS} steps", "verdict"],
        [
            [f"{r['lr']:g}", f"{r['new']:g}", f"{r['change']:+g}", f"{r['shrink']:.4g} of start", r["verdict"]]
            for r in lr_rows
        ],
        title=f"Learning rate: one update of a parameter {LR_PARAM} with gradient {LR_GRAD}",
        align="rrrrl",
    )
    say(f"The verdict is computed, not asserted: each lr runs {STEPS} steps on L(w) = (w - 3)^2 from w = {W0:g}.")

    result = {
        "steps": rows[:-1],
        "final": rows[-1][1:3],
        "ascent": (ascent, loss(ascent)),
        "descent": (descent, loss(descent)),
        "start": (w, loss(w), g),
        "lr_table": lr_rows,
    }
    if plot:
        result["figure"] = _plot(rows, out_dir)
    return result


def _plot(rows, out_dir) -> str:
    plt, fig, (a1, a2) = new_figure(1, 2, figsize=(14, 4.5))
    w = np.linspace(-0.5, 6.5, 300)
    a1.plot(w, (w - MINIMUM) ** 2, color="tab:blue", label="L(w) = (w - 3)^2")
    ws = [r[1] for r in rows]
    ls = [r[2] for r in rows]
    a1.plot(ws, ls, "o-", color="tab:red", label=f"lr {LR}: {STEPS} steps from w = {W0}")
    for s, (x, y) in enumerate(zip(ws, ls)):
        a1.annotate(str(s), (x, y), textcoords="offset points", xytext=(4, 6), fontsize=8)
    a1.set(xlabel="w", ylabel="L(w)", title="gradient descent on a parabola")
    a1.legend()
    for lr, color in zip(LR_GRID[:4], ["tab:gray", "tab:orange", "tab:red", "tab:purple"]):
        traj = [r[1] for r in descend(W0, lr, STEPS)]
        a2.plot(range(len(traj)), traj, "o-", color=color, label=f"lr {lr:g}: {verdict(lr)[1]}")
    a2.axhline(MINIMUM, color="black", ls=":", lw=1)
    a2.set(xlabel="step", ylabel="w", title="w over time per learning rate (lr 10 not drawn: |w - 3| grows 19x a step)")
    a2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save_figure(fig, out_dir, NAME)
