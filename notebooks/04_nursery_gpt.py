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
# # 4. The nursery-rhyme GPT, from scratch: 27,747 parameters
#
# A GPT with every part present and small enough to count by hand: sixteen lines of "Mary had a
# little lamb", one token per word, a context of six words, two layers of two attention heads.
# This notebook reads the text, looks at the tokenizer, counts the parameters, trains the model
# with a live curve, samples from it, and looks inside one attention head.
# (Curriculum B1 to B4; under a minute.)

# %%
from IPython.display import Image, display

import glassgpt
from glassgpt.config import resolve
from glassgpt.data.corpora import load_corpus
from glassgpt.demos.attention import count_by_component
from glassgpt.explain import explain_text, render
from glassgpt.report import render as draw

# %% [markdown]
# ## The text and its tokenizer
#
# Every line ends with the special word `<END>`; the vocabulary is `<END>` and then the words
# sorted, so an id never depends on the order the words were met.

# %%
text = load_corpus("nursery")
print(text)

# %% [markdown]
# ## Training, with the live figure
#
# The `nursery` preset: width 32, feed-forward 128 with ReLU, bias-free q/k/v, an untied output head
# with a bias; AdamW at lr 1e−3 for 1,500 steps. `live=True` redraws the loss, the learning rate and
# the gradient norm every few seconds. Uniform guessing costs ln 35 = 3.56; the walkthrough ends
# near 0.22.

# %%
m = resolve("nursery").model
print(
    f"{m.n_layer} layers of {m.n_head} heads, width {m.n_embd}, context {m.block_size}, feed-forward {m.d_ff} ({m.activation})"
)
# a model this small trains fastest on one thread: a second one costs more to keep in step than it saves
result = glassgpt.train("runs/nursery", preset="nursery", overrides={"train.threads": 1}, overwrite=True, live=True)

# %%
run = glassgpt.load_run(result.run_dir)
run.tokenizer  # a notebook shows a tokenizer as its token table

# %% [markdown]
# ## Where the 27,747 parameters sit
#
# Token and position embeddings, and per layer two LayerNorms, the q/k/v projection, the attention
# output, the two feed-forward layers; a final LayerNorm and the head.

# %%
rows = count_by_component(run.model)
for component, shapes, per_layer, layers in rows:
    print(f"{component:22s} {', '.join(shapes):34s} {per_layer:6,d} × {layers}")
total = sum(p.numel() for p in run.model.parameters())
print(f"{'total':22s} {'':34s} {total:6,d}")
assert total == 27_747

# %% [markdown]
# ## Generation
#
# Sampling feeds the model at most its context (the last six words) and draws the next one.

# %%
for seed in range(3):
    print(glassgpt.generate(run.model, run.tokenizer, "mary", max_new_tokens=20, temperature=0.8, seed=seed)[0])

# %% [markdown]
# ## What it predicted, word by word
#
# For every position: the probability of the word that came, its loss −ln p, and the model's
# favourites.

# %%
render(explain_text(run, "mary had a little lamb <END> its fleece was white as snow"), wide=True)

# %% [markdown]
# ## One head's attention
#
# The causal mask lets each word look only at itself and the words before it; each row of the
# attention weights sums to one.

# %%
(figure,) = draw(result.run_dir, "attention", prompt="mary had a little lamb")
display(Image(figure.path))

# %% [markdown]
# The run, as a notebook shows it:

# %%
result

# %% [markdown]
# **Next:** [5. A character GPT on Shakespeare](05_shakespeare.py), the same model scaled up, with
# live curves.
