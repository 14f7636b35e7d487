"""Scalar autograd from scratch, in three steps (curriculum C1).

1. A derivative two ways: f(x) = 3x^2 - 4x + 5 has f'(3) = 14 and f'(-3) = -22,
   measured by a central finite difference and computed by ``Value.backward()``.
2. One tanh neuron worked by hand: x1=2, w1=-3, x2=0, w2=1, b=6.8813735870195432,
   o = tanh(x1*w1 + x2*w2 + b) = 0.7071, and the gradient of o with respect to
   every input (x1 -1.5, w1 1.0, x2 0.5, w2 0.0, b 0.5).
3. Training: MLP(3, [4, 4, 1]) fits four points (targets +1/-1) by minimising the
   sum of squared errors with 50 steps of plain gradient descent, lr 0.05.

Every number is computed by the engine in ``glassgpt.autograd``; nothing is typed in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from glassgpt.autograd import MLP, Value, render, to_dot
from glassgpt.demos._show import heading, new_figure, num, save_figure, say, table
from glassgpt.fileio import atomic_write_text

NAME = "micrograd"
SUMMARY = "Scalar autograd from scratch: f'(x) two ways, one tanh neuron by hand, an MLP trained in 50 steps."

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def f(x):
    """The warm-up function 3x^2 - 4x + 5; works on floats and on Values alike."""
    return 3 * x**2 - 4 * x + 5


def derivative_warmup(points=(3.0, -3.0), h: float = 1e-5) -> dict:
    """f'(x) at each point by central difference (f(x+h) - f(x-h)) / 2h and by backward()."""
    out = {}
    for x0 in points:
        finite = (f(x0 + h) - f(x0 - h)) / (2 * h)
        x = Value(x0, label="x")
        f(x).backward()
        out[x0] = {"finite_difference": finite, "autograd": x.grad}
    return out


def worked_neuron() -> tuple[dict, Value]:
    """o = tanh(x1*w1 + x2*w2 + b) with the curriculum's numbers; returns (numbers, o)."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "x1*w1 + x2*w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    leaves = {"x1": x1, "w1": w1, "x2": x2, "w2": w2, "b": b}
    return {"n": n.data, "o": o.data, "grads": {k: v.grad for k, v in leaves.items()}}, o


def sum_squared_error(net: MLP, xs=XS, ys=YS) -> tuple[Value, list[Value]]:
    """The loss sum_i (net(x_i) - y_i)^2 and the predictions."""
    preds = [net(x) for x in xs]
    loss = sum(((p - y) ** 2 for p, y in zip(preds, ys)), Value(0.0))
    return loss, preds


def train_mlp(steps: int = 50, lr: float = 0.05, seed: int = 0, log_every: int = 10, echo=None) -> dict:
    """Fit MLP(3, [4, 4, 1]) to XS -> YS with plain gradient descent.

    Returns ``loss_history`` (entry k is the loss after k updates, so steps + 1
    entries) and the final ``predictions``.  ``echo`` (e.g. ``print``), when given,
    receives a progress line every ``log_every`` steps.
    """
    net = MLP(3, [4, 4, 1], seed=seed)
    history = []
    for step in range(steps + 1):
        loss, preds = sum_squared_error(net)
        history.append(loss.data)
        if echo is not None and (step % log_every == 0 or step == steps):
            echo(f"  step {step:3d}  loss {loss.data:.6f}")
        if step == steps:
            break
        net.zero_grad()  # gradients accumulate, so clear them first
        loss.backward()
        for p in net.parameters():
            p.data -= lr * p.grad  # one step downhill
    return {
        "seed": seed,
        "steps": steps,
        "lr": lr,
        "n_parameters": len(net.parameters()),
        "loss_history": history,
        "final_loss": history[-1],
        "predictions": [p.data for p in preds],
    }


def _plot_loss(history: list[float], out_dir: str) -> str:
    """Save the loss curve (log scale) as out_dir/micrograd.png and return the path."""
    plt, fig, ax = new_figure()
    ax.semilogy(range(len(history)), [max(v, 1e-300) for v in history], marker=".")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("sum of squared errors (log scale)")
    ax.set_title("MLP(3, [4, 4, 1]) learning four points, lr 0.05")
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, out_dir, NAME)


def run(plot: bool = False, out_dir: str = ".") -> dict:
    """Print the three parts and return every computed number (see the module docstring)."""
    heading("1. A derivative two ways: f(x) = 3x^2 - 4x + 5, so f'(x) = 6x - 4")
    deriv = derivative_warmup()
    table(
        ["x", "f(x)", "(f(x+h) - f(x-h)) / 2h", "backward()", "6x - 4"],
        [
            [f"{x0:g}", num(f(x0)), num(d["finite_difference"], 6), num(d["autograd"], 6), num(6 * x0 - 4, 6)]
            for x0, d in deriv.items()
        ],
    )

    heading("2. One tanh neuron: o = tanh(x1*w1 + x2*w2 + b)")
    neuron, o = worked_neuron()
    say(
        f"n = x1*w1 + x2*w2 + b = {neuron['n']:.10f},  o = tanh(n) = {num(neuron['o'])},  "
        f"do/dn = 1 - o^2 = {num(1 - neuron['o'] ** 2)}"
    )
    inputs = dict(x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.8813735870195432)
    table(
        ["input", "value", "do/dinput"],
        [[k, f"{inputs[k]:.16g}", num(g, sign=True)] for k, g in neuron["grads"].items()],
    )
    say("w2 multiplies x2 = 0, so it gets no gradient; x2 gets w2 * 0.5 = 0.5.")

    heading("3. Training MLP(3, [4, 4, 1]) on 4 points: sum of squared errors, 50 steps, lr 0.05")
    training = train_mlp()
    hist = training["loss_history"]
    table(["step", "loss"], [[k, f"{hist[k]:.6f}"] for k in range(0, len(hist), 10)])
    table(
        ["input", "target", "prediction"],
        [[str(x), num(y, sign=True), num(p, sign=True)] for x, y, p in zip(XS, YS, training["predictions"])],
    )

    result = {"derivative": deriv, "neuron": neuron, "training": training, "files": []}
    if plot:
        out = Path(out_dir)
        dot_path = out / f"{NAME}_neuron.dot"
        atomic_write_text(dot_path, to_dot(o))
        result["files"].append(str(dot_path))
        if shutil.which("dot"):
            result["files"].append(str(render(o, out / f"{NAME}_neuron.svg")))
        else:
            say("Graphviz 'dot' is not installed: wrote the graph's DOT text only, no SVG.")
        say("graph of the neuron written to " + " and ".join(result["files"]))
        result["files"].append(_plot_loss(hist, out_dir))
    return result
