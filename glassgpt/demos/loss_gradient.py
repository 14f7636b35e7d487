"""The loss gradient dL/dlogits = p - onehot on a given 4x6 probability table (docs/curriculum.md, A2).

A tiny transformer (vocabulary ``<PAD> <BOS> <EOS> I like transformers``) reads
``<BOS> I like transformers`` and must predict ``I like transformers <EOS>``.  The
source prints its softmax output to 4 digits; from that table alone we get the loss,
the gradient at every position, and two checks worth getting right:

* **Row sums.** Each gradient row sums to 0 in exact arithmetic (probabilities sum
  to 1, the one-hot to 1).  The printed probabilities are rounded to 4 digits, so a
  row of 6 can be off by up to 6 x 0.00005 = 3e-4.  A 1e-6 tolerance (the source's)
  flags row 2, whose printed probabilities sum to 0.9999 - a rounding artefact, not a
  bug.  We check with 3e-4, the honest bound.
* **Dividing by N.** The loss is the MEAN over N positions, so its gradient is
  ``(p - onehot) / N``.  ``p - onehot`` alone is the gradient of each position's own
  loss (or of the SUM); the source's target cells (-0.8746, ...) are those per-row values.
"""

from __future__ import annotations

import math

import numpy as np

from glassgpt.demos._show import heading, new_figure, num, save_figure, say, table

NAME = "loss-gradient"
SUMMARY = "dL/dlogits = p - onehot on a 4x6 probability table; row sums, and why /N (A2)"

VOCAB = ["<PAD>", "<BOS>", "<EOS>", "I", "like", "transformers"]
INPUT_IDS = [1, 3, 4, 5, 2]
TARGETS = [3, 4, 5, 2]  # INPUT_IDS shifted left by one
PROBS = [
    [0.1785, 0.2007, 0.1759, 0.1254, 0.1563, 0.1632],
    [0.1836, 0.1969, 0.1805, 0.1233, 0.1500, 0.1657],
    [0.1795, 0.2050, 0.1782, 0.1207, 0.1437, 0.1728],
    [0.1855, 0.2017, 0.1771, 0.1271, 0.1391, 0.1695],
]
#: printed digits of PROBS; half a unit of the last digit per entry
DIGITS = 4
ROUNDING_TOL = len(VOCAB) * 0.5 * 10.0**-DIGITS  # 3e-4
SOURCE_TOL = 1e-6


def run(plot: bool = False, out_dir: str = ".") -> dict:
    heading("A2  Loss gradient of a tiny transformer: dL/dlogits = p - onehot")
    p = np.array(PROBS, dtype=np.float64)
    targets = np.array(TARGETS)
    n, v = p.shape
    onehot = np.eye(v)[targets]
    say(f"Vocabulary: {' '.join(f'{i}={w}' for i, w in enumerate(VOCAB))}")
    say(f"input ids {INPUT_IDS}; the model sees {INPUT_IDS[:-1]} and must predict targets {TARGETS}")
    table(
        ["pos", "reads", "target"] + VOCAB,
        [[i, VOCAB[INPUT_IDS[i]], VOCAB[t]] + [num(x, 4) for x in row] for i, (row, t) in enumerate(zip(p, targets))],
        title="Given probabilities (softmax output, printed to 4 digits)",
        align="rll" + "r" * v,
    )

    # ---- loss
    p_target = p[np.arange(n), targets]
    losses = -np.log(p_target)
    mean_loss = float(losses.mean())
    uniform = math.log(v)
    table(
        ["pos", "target", "p(target)", "-ln p"],
        [[i, VOCAB[t], num(q, 4), num(l, 4)] for i, (t, q, l) in enumerate(zip(targets, p_target, losses))],
        title="Loss per position",
        align="rlrr",
    )
    say(
        f"mean loss = {mean_loss:.4f}   vs uniform guessing ln {v} = {uniform:.4f}: the untrained model is slightly worse than guessing."
    )

    # ---- gradient per row, and of the mean loss
    grad_rows = p - onehot
    grad_mean = grad_rows / n
    table(
        ["pos"] + VOCAB,
        [[i] + [_mark(g, j == t) for j, g in enumerate(row)] for i, (row, t) in enumerate(zip(grad_rows, targets))],
        title="p - onehot (gradient of each position's own loss; [ ] = target cell)",
    )
    table(
        ["pos"] + VOCAB,
        [[i] + [_mark(g, j == t) for j, g in enumerate(row)] for i, (row, t) in enumerate(zip(grad_mean, targets))],
        title=f"(p - onehot) / N, N = {n} (gradient of the MEAN loss - what backward() must produce)",
    )
    say(f"Decision: the loss is a mean over N = {n} positions, so dL/dlogits = (p - onehot) / N.")
    say("Forgetting /N multiplies every gradient by N: the same as an N-times larger learning rate.")

    # ---- row sums: exact zero in theory, rounding noise in practice
    row_sums = grad_rows.sum(axis=1)
    table(
        ["pos", "sum of row", f"|sum| <= {SOURCE_TOL:g} (source)", f"|sum| <= {ROUNDING_TOL:g} (ours)"],
        [[i, f"{s:+.1e}", _ok(abs(s) <= SOURCE_TOL), _ok(abs(s) <= ROUNDING_TOL)] for i, s in enumerate(row_sums)],
        title="Each gradient row should sum to 0",
    )
    flagged = [i for i, s in enumerate(row_sums) if abs(s) > SOURCE_TOL]
    say(
        f"With 1e-6 the check flags row(s) {flagged}: their printed probabilities sum to "
        f"{', '.join(f'{p[i].sum():.4f}' for i in flagged)}, a 4-digit rounding artefact.  "
        f"Rounding each of {v} entries by up to 0.00005 can move a row sum by {ROUNDING_TOL:g}, "
        f"so that is the tolerance to use."
    )

    result = {
        "probs": p.tolist(),
        "targets": TARGETS,
        "p_target": p_target.tolist(),
        "losses": losses.tolist(),
        "mean_loss": mean_loss,
        "uniform_loss": uniform,
        "grad_rows": grad_rows.tolist(),
        "grad_mean": grad_mean.tolist(),
        "target_cells": grad_rows[np.arange(n), targets].tolist(),
        "target_cells_mean": grad_mean[np.arange(n), targets].tolist(),
        "row_sums": row_sums.tolist(),
        "flagged_source_tol": flagged,
        "flagged_rounding_tol": [i for i, s in enumerate(row_sums) if abs(s) > ROUNDING_TOL],
        "rounding_tol": ROUNDING_TOL,
    }
    if plot:
        result["figure"] = _plot(p, grad_rows, targets, out_dir)
    return result


def _mark(g: float, is_target: bool) -> str:
    text = num(g, 4, sign=True)
    return f"[{text}]" if is_target else f" {text} "


def _ok(passed: bool) -> str:
    return "ok" if passed else "FLAGGED"


def _plot(p, grad, targets, out_dir) -> str:
    plt, fig, axes = new_figure(1, 2, figsize=(13, 4))
    for ax, data, title, cmap in [
        (axes[0], p, "probabilities p", "viridis"),
        (axes[1], grad, "dL/dlogits = p - onehot", "RdBu_r"),
    ]:
        lim = np.abs(data).max()
        im = ax.imshow(data, cmap=cmap, vmin=-lim if cmap == "RdBu_r" else 0, vmax=lim)
        ax.set_xticks(range(len(VOCAB)), VOCAB, rotation=30)
        ax.set_yticks(range(len(targets)), [f"pos{i} -> {VOCAB[t]}" for i, t in enumerate(targets)])
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                ax.text(
                    j,
                    i,
                    f"{data[i, j]:+.3f}" if cmap == "RdBu_r" else f"{data[i, j]:.3f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if (abs(data[i, j]) > lim / 2) != (cmap == "viridis") else "black",
                )
        for i, t in enumerate(targets):
            ax.add_patch(plt.patches.Rectangle((t - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="orange", lw=2))
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return save_figure(fig, out_dir, NAME)
