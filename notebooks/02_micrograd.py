# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Scalar autograd: backpropagation at its smallest
#
# Every number here is a `Value` from `glassgpt.autograd`: it remembers the values it was computed
# from and the local derivative of the operation that made it. `backward()` visits the graph in
# topological order and applies the chain rule, adding (`+=`) every contribution, so a value used
# twice receives both. That is all of backpropagation; PyTorch does the same a tensor at a time.
# (Curriculum C1; a few seconds.)

# %%
import random

import torch
from IPython.display import SVG, Image, display

from glassgpt.autograd import MLP, GraphvizNotFoundError, Value, render, to_dot
from glassgpt.plotting import new_figure, save_png

# %% [markdown]
# ## A derivative, two ways
#
# f(x) = 3x² − 4x + 5 has f′(x) = 6x − 4: 14 at x = 3. A finite difference measures it, `backward()`
# computes it.


# %%
def f(x):
    return 3 * x**2 - 4 * x + 5


h = 1e-6
x = Value(3.0)
y = f(x)
y.backward()
print(f"finite difference {(f(3.0 + h) - f(3.0 - h)) / (2 * h):.6f}   backward() {x.grad}")

# %% [markdown]
# ## One neuron, by hand and by the engine
#
# o = tanh(x1·w1 + x2·w2 + b). Going backwards: do/dn = 1 − o², and each input of a sum gets that
# gradient times its partner.

# %%
x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
n = x1 * w1 + x2 * w2 + b
o = n.tanh()
o.backward()

do_dn = 1 - o.data**2  # by hand
print(f"o = {o.data:.4f}; by hand: dx1 {do_dn * w1.data:.4f}, dw1 {do_dn * x1.data:.4f}, db {do_dn:.4f}")
print(f"backward():   dx1 {x1.grad:.4f}, dw1 {w1.grad:.4f}, dx2 {x2.grad:.4f}, dw2 {w2.grad:.4f}, db {b.grad:.4f}")

# %% [markdown]
# PyTorch gets the same numbers:

# %%
t = {
    k: torch.tensor(v.data, dtype=torch.float64, requires_grad=True)
    for k, v in dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b).items()
}
torch.tanh(t["x1"] * t["w1"] + t["x2"] * t["w2"] + t["b"]).backward()
print({k: round(v.grad.item(), 4) for k, v in t.items()})
assert abs(t["w1"].grad.item() - w1.grad) < 1e-12

# %% [markdown]
# The graph the engine walked, as Graphviz DOT (drawn when Graphviz is installed):

# %%
try:
    display(SVG(filename=str(render(o, "neuron.svg"))))
except GraphvizNotFoundError:
    print("\n".join(to_dot(o).splitlines()[:12]) + "\n...")

# %% [markdown]
# ## A value used twice
#
# `a + a` must give da = 2: the two contributions add up. (An engine that assigns instead of adding
# gets 1.)

# %%
a = Value(3.0)
(a + a).backward()
print("d(a + a)/da =", a.grad)

# %% [markdown]
# ## Training a tiny network
#
# MLP(3, [4, 4, 1]): two hidden tanh layers of four neurons and one linear output, 41 parameters.
# It fits four points with targets ±1 by gradient descent on the squared error: forward, zero the
# gradients, backward, step.

# %%
xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
net = MLP(3, [4, 4, 1], seed=0)
print(len(net.parameters()), "parameters")

history = []
for step in range(50):
    predictions = [net(x) for x in xs]
    loss = sum((p - y) ** 2 for p, y in zip(predictions, ys))
    for p in net.parameters():
        p.grad = 0.0
    loss.backward()
    for p in net.parameters():
        p.data -= 0.05 * p.grad
    history.append(loss.data)
    if step % 10 == 0 or step == 49:
        print(f"step {step:2d}  loss {loss.data:.6f}")

print("predictions", [round(net(x).data, 4) for x in xs], "targets", ys)

# %% [markdown]
# The loss falls by orders of magnitude, which a log scale shows best:

# %%
fig, ax = new_figure(6, 3.5)
ax.semilogy(history)
ax.set_xlabel("step")
ax.set_ylabel("sum of squared errors")
ax.set_title("MLP(3, [4, 4, 1]) on four points")
display(Image(save_png(fig, "figures/micrograd-loss.png")))

# %% [markdown]
# ## Shuffled inputs, same gradient
#
# Backpropagation does not care in which order a sum was built: adding the four losses in a random
# order gives the same gradient on every parameter.


# %%
def gradients(order):
    net = MLP(3, [4, 4, 1], seed=0)
    loss = sum((net(xs[i]) - ys[i]) ** 2 for i in order)
    loss.backward()
    return [p.grad for p in net.parameters()]


order = [0, 1, 2, 3]
shuffled = order[:]
random.Random(1).shuffle(shuffled)
print("largest difference:", max(abs(g - h) for g, h in zip(gradients(order), gradients(shuffled))))

# %% [markdown]
# **Next:** [3. The makemore ladder](03_makemore_ladder.py): the same idea, a tensor at a time, on
# thirty thousand names.
