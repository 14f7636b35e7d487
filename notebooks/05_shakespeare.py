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
# # 5. A character GPT on Shakespeare, with live curves
#
# The nursery-rhyme GPT scaled up: the complete plays of Shakespeare, one token per character, the
# `baby` preset (4 layers, 4 heads, width 128, context 64, about 0.8 M parameters). `live=True`
# draws the loss, the learning rate and the gradient norm while it trains. `STEPS` keeps the
# notebook short: 100 steps here, then 25 more on resuming, where `glassgpt train` gives the same
# preset 900 steps or 210 seconds, whichever comes first. So the model below is only a start (a
# validation loss around 2.5 nats, samples with word shapes but few words); the full preset
# reaches about 1.85. Raise `STEPS` to see it go further. (Curriculum C3; about three minutes on
# a 2-core machine.)

# %%
import glassgpt

STEPS = 100  # the same 100 steps every time: the same numbers for the same seed
HELD_OUT = 0.02  # the last 2% of the text is the validation split (the preset holds out 10%)

# %%
result = glassgpt.train(
    "runs/shakespeare",
    preset="baby",
    overrides={
        "train.max_steps": STEPS,
        "train.time_budget": 0,
        "train.eval_every": 50,
        "data.val_fraction": HELD_OUT,
    },
    overwrite=True,
    live=True,
)
print(f"{result.steps} steps ({result.stopped_by.replace('_', ' ')}); validation loss {result.final['loss']:.4f}")

# %% [markdown]
# The validation loss is measured on the last 2% of the text, which the model never trained on;
# bits per byte compare it with any other tokenizer. The run shows as its card: the settings, the
# final evaluation, a sample, the loss curve, and a link to the full report.

# %%
result

# %% [markdown]
# ## The tokenizer: one id per character

# %%
run = glassgpt.load_run(result.run_dir)
run.tokenizer

# %% [markdown]
# ## Sampling
#
# Generation feeds the model at most the context it was trained on (64 characters) and draws one
# character at a time; a lower temperature sharpens the distribution.

# %%
for temperature in (0.5, 1.0):
    print(f"--- temperature {temperature}")
    print(
        glassgpt.generate(
            run.model,
            run.tokenizer,
            "ROMEO:",
            max_new_tokens=200,
            temperature=temperature,
            seed=1,
            max_context=run.trained_context,
        )[0]
    )

# %% [markdown]
# ## Training on
#
# A run resumes from its last checkpoint exactly where it stopped (same batches, same random
# numbers); the live figure starts with the steps already trained.

# %%
more = glassgpt.train(
    "runs/shakespeare",
    resume=True,
    overrides={"train.max_steps": result.steps + 25, "train.time_budget": 0},
    report=False,
    live=True,
)
print(f"{more.steps} steps; validation loss {result.final['loss']:.4f} -> {more.final['loss']:.4f}")

# %% [markdown]
# **Where next:** `glassgpt train --preset cpu-speedrun` is the best model 100 seconds of a laptop
# can buy (`docs/benchmarks.md`), and `docs/finetuning.md` turns a run into a chat model.
