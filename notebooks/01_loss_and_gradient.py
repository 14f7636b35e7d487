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
# # 1. The loss and its gradient
#
# A language model reads some text and scores every word it knows as the next one. Those scores
# (*logits*) become probabilities through **softmax**; the model is wrong by **−ln p(right word)**,
# the cross-entropy of that one prediction; and training needs the **gradient** of the loss with
# respect to the logits, which turns out to be the simplest formula in the whole network:
#
# $$\frac{\partial L}{\partial z} = \frac{1}{n}\,(p - \text{onehot}) = -\frac{1}{n}\,(\text{onehot} - p)$$
#
# This notebook computes all three by hand with NumPy, checks them against PyTorch, and prints the
# curriculum's demo tables (`docs/curriculum.md`, A1 to A3), each computed by glassgpt rather than
# typed in. It takes a few seconds.

# %%
import numpy as np
import torch
from IPython.display import Image, display

from glassgpt.demos import run_demo

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Softmax, one prediction at a time
#
# The walkthrough's first step: after `<BOS>` the model scores eight words. The right word is *we*.

# %%
words = ["the", "hello", "we", "is", "love", "deep", "learning", "<EOS>"]
logits = np.array([3.2, 2.8, 2.1, 1.5, -0.5, -1.2, -2.0, -10.0])
right = words.index("we")

exp = np.exp(logits - logits.max())  # subtracting the max changes nothing but keeps exp finite
p = exp / exp.sum()
loss = -np.log(p[right])
print("p       ", p)
print(f"p(we) = {p[right]:.4f}   loss = -ln p(we) = {loss:.4f}")

# %% [markdown]
# The gradient of that loss with respect to the eight logits is `p − onehot`: every wrong word is
# pushed down by its own probability, the right word is pulled up by `1 − p`, and the row sums to
# zero. Autograd agrees:

# %%
onehot = np.eye(len(words))[right]
by_hand = p - onehot

z = torch.tensor(logits, requires_grad=True)
torch.nn.functional.cross_entropy(z[None], torch.tensor([right])).backward()
print("p - onehot", by_hand)
print("autograd  ", z.grad.numpy())
print("row sum   ", f"{by_hand.sum():+.1e}")
assert np.allclose(by_hand, z.grad.numpy())

# %% [markdown]
# ## The whole sentence: a mean, so the gradient has a 1/n
#
# Over a sentence the loss is the **mean** of the per-position losses, and perplexity is e to that
# mean. Each position's gradient is divided by the number of positions `n`, which is exactly what
# `backward()` produces for a batch:

# %%
rng = np.random.default_rng(0)
n, vocab = 4, 12
batch_logits = rng.normal(0, 3, size=(n, vocab))
targets = np.array([2, 7, 1, 11])

shifted = batch_logits - batch_logits.max(axis=1, keepdims=True)
probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
mean_loss = -np.log(probs[np.arange(n), targets]).mean()
grad = -(np.eye(vocab)[targets] - probs) / n  # -1/n · (onehot − p)

zb = torch.tensor(batch_logits, requires_grad=True)
torch_loss = torch.nn.functional.cross_entropy(zb, torch.tensor(targets))
torch_loss.backward()
print(f"mean loss {mean_loss:.6f} (torch {torch_loss.item():.6f}), perplexity {np.exp(mean_loss):.3f}")
print("largest difference from autograd:", np.abs(grad - zb.grad.numpy()).max())
assert np.allclose(grad, zb.grad.numpy())

# %% [markdown]
# ## The demo tables
#
# `glassgpt demo softmax` walks the whole sentence `<BOS> we love deep learning` (curriculum A1);
# `run_demo` prints the same tables and returns every number.

# %%
a1 = run_demo("softmax", wide=True)
print(f"total loss {a1['total_loss']:.4f}, mean {a1['mean_loss']:.4f}, perplexity {a1['perplexity']:.2f}")

# %% [markdown]
# A tiny transformer's softmax output and its gradient table (A2), with the two checks worth
# getting right: the gradient of the *mean* loss carries the 1/n, and each row sums to zero up to
# the rounding of the printed probabilities.

# %%
a2 = run_demo("loss-gradient", plot=True, out_dir="figures", wide=True)
display(Image(a2["figure"]))

# %% [markdown]
# Cross-entropy from scratch against PyTorch on random logits, and why softmax subtracts the
# maximum before exponentiating (A3):

# %%
a3 = run_demo("cross-entropy", plot=True, out_dir="figures", wide=True)
display(Image(a3["figure"]))

# %% [markdown]
# **Next:** [2. Scalar autograd](02_micrograd.py), where `backward()` itself is built from scratch.
