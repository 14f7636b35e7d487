"""One neuron, a 2-2-1 network by hand, and the same network trained in PyTorch (docs/curriculum.md, A7).

A neuron computes ``relu(w . x + b)``.  Two of them feeding a third make a 2-2-1
network; with squared error against a target, backprop gives every weight's
gradient, and one SGD step ``p <- p - lr * grad`` lowers the loss.  The numbers
are computed here (the source's own hand-worked gradient was inconsistent), checked
against autograd, and followed by a 10-epoch PyTorch run of the same shape.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from glassgpt.demos._show import heading, new_figure, num, save_figure, say, table

NAME = "neuron"
SUMMARY = "one neuron, a 2-2-1 ReLU network by hand (gradient, one SGD step), then trained in PyTorch (A7)"

X = [0.8, 0.2]
NEURON_W, NEURON_B = [0.6, -0.4], 0.1
#: the 2-2-1 network: hidden rows are neurons h1, h2
HIDDEN_W = [[0.5, 0.3], [-0.2, 0.8]]
HIDDEN_B = [0.1, -0.1]
OUT_W = [0.7, 0.4]
OUT_B = 0.05
TARGET = 1.0
LR = 0.1
EPOCHS = 10
SEED = 42
#: what the source printed for the PyTorch run (compared against, never used)
SOURCE_PREDICTIONS = (0.5456, 0.9874)


def forward(params: dict, x=X) -> dict:
    x = np.asarray(x, dtype=np.float64)
    h_pre = params["hidden_w"] @ x + params["hidden_b"]
    h = np.maximum(h_pre, 0.0)
    out = float(params["out_w"] @ h + params["out_b"])
    return {"h_pre": h_pre, "h": h, "out": out, "loss": (TARGET - out) ** 2}


def backward(params: dict, fwd: dict, x=X) -> dict:
    """Gradients of (target - out)^2 for every parameter, by the chain rule."""
    x = np.asarray(x, dtype=np.float64)
    d_out = -2.0 * (TARGET - fwd["out"])
    d_h = d_out * params["out_w"]
    d_h_pre = d_h * (fwd["h_pre"] > 0)
    return {
        "out_w": d_out * fwd["h"],
        "out_b": d_out,
        "hidden_w": np.outer(d_h_pre, x),
        "hidden_b": d_h_pre,
        "d_out": d_out,
    }


def _params() -> dict:
    return {"hidden_w": np.array(HIDDEN_W), "hidden_b": np.array(HIDDEN_B), "out_w": np.array(OUT_W), "out_b": OUT_B}


def _autograd_grads() -> dict:
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in _params().items()}
    h = torch.relu(p["hidden_w"] @ torch.tensor(X, dtype=torch.float64) + p["hidden_b"])
    out = p["out_w"] @ h + p["out_b"]
    ((TARGET - out) ** 2).backward()
    return {k: v.grad.numpy() for k, v in p.items()}


def train_torch(seed: int = SEED, epochs: int = EPOCHS, lr: float = LR) -> dict:
    """nn.Linear(2,2) -> ReLU -> nn.Linear(2,1), default init under manual_seed(seed), SGD on MSE."""
    with torch.random.fork_rng(devices=[]):  # the source's seeded init, without touching the global generator
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    init = {name: p.detach().tolist() for name, p in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.tensor([X]), torch.tensor([[TARGET]])
    preds, losses = [], []
    for _ in range(epochs):
        opt.zero_grad()
        pred = model(x)
        loss = nn.functional.mse_loss(pred, y)
        loss.backward()
        opt.step()
        preds.append(pred.item())
        losses.append(loss.item())
    with torch.no_grad():
        after = model(x).item()
    return {"init": init, "predictions": preds, "losses": losses, "after_last_step": after}


def run(plot: bool = False, out_dir: str = ".") -> dict:
    heading("A7  One neuron, a 2-2-1 network by hand, then PyTorch")

    # ---- one neuron
    z = float(np.dot(NEURON_W, X) + NEURON_B)
    a = max(z, 0.0)
    say(f"Neuron: x = {X}, w = {NEURON_W}, b = {NEURON_B}")
    say(f"  z = {NEURON_W[0]}*{X[0]} + ({NEURON_W[1]})*{X[1]} + {NEURON_B} = {z:.4f};  relu(z) = {a:.4f}")

    # ---- the 2-2-1 network
    params = _params()
    fwd = forward(params)
    table(
        ["unit", "weights", "bias", "pre-activation", "after ReLU"],
        [
            ["h1", str(HIDDEN_W[0]), HIDDEN_B[0], num(fwd["h_pre"][0], 4), num(fwd["h"][0], 4)],
            ["h2", str(HIDDEN_W[1]), HIDDEN_B[1], num(fwd["h_pre"][1], 4), num(fwd["h"][1], 4)],
            ["out", str(OUT_W), OUT_B, num(fwd["out"], 4), "(linear)"],
        ],
        title=f"2-2-1 network, x = {X}",
        align="lrrrr",
    )
    say(f"squared error vs {TARGET}: ({TARGET} - {fwd['out']:.3f})^2 = {fwd['loss']:.6f}")

    grads = backward(params, fwd)
    auto = _autograd_grads()
    g_w1 = grads["out_w"][0]
    say(f"dL/d(w h1->out) = -2 (1 - out) h1 = -2 x {TARGET - fwd['out']:.3f} x {fwd['h'][0]:.2f} = {g_w1:.5f}")
    names = [
        ("out_w", "w h1->out, w h2->out"),
        ("out_b", "b out"),
        ("hidden_w", "W hidden (rows h1, h2)"),
        ("hidden_b", "b hidden"),
    ]
    table(
        ["parameter", "by hand", "autograd", "max |diff|"],
        [
            [label, _fmt(grads[k]), _fmt(auto[k]), f"{np.abs(np.asarray(grads[k]) - auto[k]).max():.1e}"]
            for k, label in names
        ],
        title="Gradients of the squared error",
        align="lrrr",
    )
    say("h2 is inactive (pre-activation -0.1 < 0), so its weights and the h2->out weight get zero gradient.")

    new_params = {k: params[k] - LR * grads[k] for k in params}
    fwd_after = forward(new_params)
    table(
        ["", "out", "loss"],
        [
            ["before", num(fwd["out"], 4), num(fwd["loss"], 6)],
            [f"after one SGD step (lr {LR})", num(fwd_after["out"], 4), num(fwd_after["loss"], 6)],
        ],
        title="One step of p <- p - lr * dL/dp on every parameter",
    )

    # ---- PyTorch
    torch_run = train_torch()
    say()
    say(
        f"PyTorch: nn.Linear(2,2) -> ReLU -> nn.Linear(2,1), torch.manual_seed({SEED}), default init, SGD lr {LR}, MSE."
    )
    table(
        ["epoch", "prediction (before the step)", "MSE"],
        [[i + 1, num(p, 4), num(l, 6)] for i, (p, l) in enumerate(zip(torch_run["predictions"], torch_run["losses"]))],
        title="Training on the single example x = [0.8, 0.2], target 1.0",
        align="rrr",
    )
    first, last = round(torch_run["predictions"][0], 4), round(torch_run["predictions"][-1], 4)
    matches = (first, last) == SOURCE_PREDICTIONS
    say(
        f"prediction {first:.4f} -> {last:.4f} ({torch_run['after_last_step']:.4f} after the 10th step); "
        f"the source reports {SOURCE_PREDICTIONS[0]} -> {SOURCE_PREDICTIONS[1]}: {'match' if matches else 'NO match (init depends on the torch version)'}."
    )

    result = {
        "neuron_z": z,
        "neuron_relu": a,
        "h_pre": fwd["h_pre"].tolist(),
        "h": fwd["h"].tolist(),
        "out": fwd["out"],
        "loss": fwd["loss"],
        "grad_w_h1_out": float(g_w1),
        "grads": {k: np.asarray(v).tolist() for k, v in grads.items()},
        "autograd": {k: v.tolist() for k, v in auto.items()},
        "out_after": fwd_after["out"],
        "loss_after": fwd_after["loss"],
        "torch": torch_run,
        "torch_matches_source": matches,
    }
    if plot:
        result["figure"] = _plot(torch_run, out_dir)
    return result


def _fmt(v) -> str:
    a = np.asarray(v, dtype=np.float64) + 0.0
    if a.ndim == 0:
        return f"{a.item():.5f}"
    if a.ndim == 1:
        return ", ".join(f"{x:.5f}" for x in a)
    return "[" + "; ".join(", ".join(f"{x:.5f}" for x in r) for r in a) + "]"


def _plot(torch_run, out_dir) -> str:
    plt, fig, (a1, a2) = new_figure(1, 2, figsize=(11, 4))
    epochs = range(1, len(torch_run["predictions"]) + 1)
    a1.plot(epochs, torch_run["predictions"], "o-", label="prediction")
    a1.axhline(TARGET, color="black", ls=":", label="target")
    a1.set(xlabel="epoch", ylabel="prediction", title=f"2-2-1 net, seed {SEED}, SGD lr {LR}")
    a1.legend()
    a2.plot(epochs, torch_run["losses"], "o-", color="tab:red")
    a2.set_yscale("log")
    a2.set(xlabel="epoch", ylabel="MSE (log scale)", title="loss")
    return save_figure(fig, out_dir, NAME)
