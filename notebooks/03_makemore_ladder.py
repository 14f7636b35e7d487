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
# # 3. The makemore ladder: bigram → MLP → BatchNorm diagnostics → WaveNet
#
# Character models that learn to spell names, one character at a time, on the lectures' list of
# 32,033 names (`.` starts and ends every name, 27 symbols). Each rung is a glassgpt run like any
# other: the same `glassgpt.train`, the same run directory, the same figures. The rungs here are
# the `-fast` presets (a few thousand steps), so each trains in seconds; the full presets and
# their published numbers are in `docs/makemore.md`. (Curriculum C2; two to three minutes.)

# %%
from IPython.display import Image, display

import glassgpt
from glassgpt.makemore.names import sample_run
from glassgpt.report import compare_runs, render

# the ladder's models are small: one thread is fastest, and it is what the ladder's table used
THREADS = {"train.threads": 1}


def show(run, *figures):
    """Draw figures of a run (into RUN/plots/) and show them."""
    for figure in figures:
        (drawn,) = render(run, figure)
        display(Image(drawn.path) if drawn.path else drawn.note)


def losses(result):
    return {split: round(values["loss"], 4) for split, values in result.final["splits"].items()}


# %% [markdown]
# ## Rung 1: the counted bigram
#
# Count how often each character follows each other one in the training split, add one to every
# count (smoothing), normalise the rows: that table *is* the model. Its loss is the bar every
# other rung must clear.

# %%
bigram = glassgpt.train("runs/ladder/bigram", preset="makemore-bigram", overwrite=True, report=False)
print("loss by split:", losses(bigram))
show(bigram.run_dir, "bigram-table")

# %% [markdown]
# ## Rung 2: an MLP over the last three characters, and why its start matters
#
# Bengio et al. (2003): embed each of the previous three characters, concatenate, one tanh layer of
# 200, a softmax over 27. Trained as the lecture first does it, its first loss is about 27 instead
# of −ln(1/27) = 3.30: the output layer is far too confident at initialisation, and the tanh units
# are saturated. The "fixes" scale the output layer down and the hidden layer to Kaiming's
# std = (5/3)/√fan_in. Same model, same steps:

# %%
mlp = glassgpt.train("runs/ladder/mlp", preset="makemore-mlp-fast", overrides=THREADS, overwrite=True, report=False)
fixed = glassgpt.train(
    "runs/ladder/mlp-fixes", preset="makemore-mlp-fixes-fast", overrides=THREADS, overwrite=True, report=False
)
print("plain MLP  ", losses(mlp))
print("with fixes ", losses(fixed))
display(Image(compare_runs(mlp.run_dir, fixed.run_dir).path))

# %% [markdown]
# ## Rung 3: BatchNorm, and the diagnostics that tell a healthy network from a sick one
#
# BatchNorm normalises the hidden layer's pre-activations over the batch, so the tanh units stay
# in their useful range whatever the initialisation. `train.diagnostics_every` records, every N
# steps, per layer: the activation and gradient histograms, the saturated share (|tanh| > 0.97),
# which units are dead, and the update-to-data ratio against the lecture's 1e−3 guide line. The
# live figure shows the run as it trains.

# %%
bn = glassgpt.train(
    "runs/ladder/mlp-bn",
    preset="makemore-mlp-bn-fast",
    overrides={**THREADS, "train.diagnostics_every": 500},
    overwrite=True,
    report=False,
    live=True,
)
print("MLP + BatchNorm", losses(bn))
show(bn.run_dir, "histograms", "dead-neurons", "update-ratio")

# %% [markdown]
# ## Rung 4: a WaveNet-style hierarchy
#
# Eight characters of context, merged two at a time in a tree (FlattenConsecutive → Linear →
# BatchNorm → tanh, three times), instead of squashed into one layer at once.

# %%
wavenet = glassgpt.train(
    "runs/ladder/wavenet", preset="makemore-wavenet-fast", overrides=THREADS, overwrite=True, report=False
)
print("WaveNet", losses(wavenet))
show(wavenet.run_dir, "loss", "embeddings")

# %% [markdown]
# ## The ladder
#
# The dev loss of each rung, and a few names from the best one (a `*` marks a name that is in the
# training list: the model has learned it by heart).

# %%
for name, result in [
    ("bigram", bigram),
    ("MLP", mlp),
    ("MLP + fixes", fixed),
    ("MLP + BatchNorm", bn),
    ("WaveNet", wavenet),
]:
    print(f"{name:16s} dev {result.final['splits']['dev']['loss']:.4f}   ({result.steps:,} steps)")

training_names = set(open("runs/ladder/wavenet/data/words.txt", encoding="utf-8").read().split())
for name, known in sample_run(wavenet.run_dir, n=12, seed=1, known=training_names):
    print(name + (" *" if known else ""))

# %% [markdown]
# The run itself shows as its card in a notebook:

# %%
wavenet

# %% [markdown]
# **Next:** [4. The nursery-rhyme GPT](04_nursery_gpt.py): attention, on a text small enough to
# read in full.
