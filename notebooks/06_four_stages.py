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
# # 6. The four stages of an assistant: pretraining, SFT, a reward model, RL
#
# An assistant is trained in four stages, and this notebook runs all of them on the arithmetic
# task (`12+34=46`), whose answers a program checks, so each stage's effect is a number:
#
# 1. **pretraining** on plain lines `12+34=46` (the `arithmetic` preset, cut short here);
# 2. **supervised fine-tuning** on chats where the user asks `12+34=` and the assistant answers `46`;
# 3. a **reward model** that learns from pairs (a right answer against a wrong one) to score replies;
# 4. **RL**: the policy samples G answers per question, the reward model scores them, and each
#    answer's tokens are pushed up or down by its advantage (its reward minus its group's mean).
#
# The settings are small so that the whole notebook runs in about three minutes; `docs/stages.md`
# has the full-size commands and their measured report card. (Curriculum C6.)

# %%
import matplotlib.pyplot as plt

import glassgpt
from glassgpt.rundir.records import read_metrics
from glassgpt.stages.finetune import finetune
from glassgpt.stages.reward import train_reward_model
from glassgpt.stages.rl import rl

PRETRAIN_STEPS = 1200  # the preset trains 4,000; fewer keep the notebook short
TASK = "arithmetic:digits=2"  # numbers of 1 or 2 digits: within reach of a short pretraining
SEED = 0

# %% [markdown]
# ## 1. Pretraining
#
# A 2-layer character GPT of width 128 reads lines of problems and their answers; by the end it
# writes lines of the same shape, though many of the sums are wrong.

# %%
base = glassgpt.train(
    "runs/arith",
    preset="arithmetic",
    overrides={"train.max_steps": PRETRAIN_STEPS, "train.eval_every": 500, "train.threads": 1},
    overwrite=True,
    report=False,
)
print(f"validation loss {base.final['loss']:.3f}")
print("greedy continuations:", [sample.splitlines()[0] for sample in base.samples])

# %% [markdown]
# ## 2. Supervised fine-tuning
#
# Chats in which the user writes the problem and the assistant the answer (5,000 of them, numbers
# of 1 or 2 digits). Fine-tuning adds the chat tokens to the vocabulary and trains on the
# assistant's replies only; `transcript` held-out questions are answered at the end.

# %%
sft = finetune("runs/arith", TASK, "runs/arith-sft", max_steps=150, overwrite=True, threads=1, transcript=4)
for turn in sft.transcript:
    print(f"{turn['user']:>8} expected {turn['expected']:>4}, answered {turn['reply']!r}")

# %% [markdown]
# ## 3. The reward model
#
# For each of 600 training problems the SFT model answers four times; a right answer is paired
# with a wrong one. The reward model is the SFT model with a readout token `<|reward|>` after the
# reply and a scalar head on it, trained so that the right answer scores higher: the Bradley–Terry
# loss −log σ(r_chosen − r_rejected). Its held-out pair accuracy is how often it ranks a new pair
# the right way.

# %%
rm = train_reward_model(
    "runs/arith-sft", TASK, "runs/arith-rm", task_pairs=600, max_steps=150, overwrite=True, seed=SEED
)
print(f"held-out pair accuracy {rm.before['pair_accuracy']:.2f} -> {rm.after['pair_accuracy']:.2f}")

# %% [markdown]
# ## 4. RL, with two rewards
#
# The policy starts as the SFT model. Every step samples G = 8 answers to each of 16 fresh
# training problems, scores them, and lowers −Σ A·log π over the answer tokens. It runs twice
# from the same SFT model: once with the exact reward (1 for the right answer, else 0), once
# with the reward model's score. The second run is given the task too, so it also logs the
# exact accuracy of its samples, and it can be seen whether a higher score means more right
# answers. (The held-out figures sample each problem once: pass@1.)

# %%
runs = {}
for name, reward in (("exact reward", None), ("reward model", "runs/arith-rm")):
    out = "runs/arith-rl" if reward is None else "runs/arith-rl-rm"
    runs[name] = rl(
        "runs/arith-sft",
        out,
        task=TASK,
        reward=reward,
        prompts_per_step=16,
        max_steps=80,
        lr=1e-4,
        eval_every=40,
        pass_k=1,
        seed=SEED,
        overwrite=True,
    )
    before, after = runs[name].before, runs[name].after
    print(
        f"RL with the {name}: held-out accuracy {before['accuracy']:.1%} -> {after['accuracy']:.1%}, "
        f"KL to the SFT model {after['kl']:.3f}"
    )

# %% [markdown]
# Step by step: the exact accuracy of each step's samples in both runs, and the reward model's
# mean score of its run's samples. Eighty steps are too few for the exact reward to move the
# held-out accuracy by more than its noise (the report card's run takes 1,500 steps for +9
# points), but they are enough to show what a weak reward model does: its score climbs while
# the accuracy falls. The policy has found answers the reward model likes that are not right,
# reward hacking, and it drifts far from the SFT model (the KL). A reward model is only as good
# as its held-out pair accuracy above.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
for name, result in runs.items():
    records = [r for r in read_metrics(result.run_dir) if "accuracy" in r]
    left.plot([r["step"] for r in records], [r["accuracy"] for r in records], label=f"RL, {name}")
    if name == "reward model":
        right.plot([r["step"] for r in records], [r["reward"] for r in records], color="C1")
left.set(title="exact accuracy of the samples", xlabel="step", ylim=(0, 1))
left.legend()
right.set(title="reward model's mean score of the samples", xlabel="step")
plt.show()

# %% [markdown]
# **Where next:** `docs/stages.md` runs the same stages at full size (RL with the exact reward,
# RL against a reward model, DPO, LoRA) and measures them in its report card; the run report's
# `stage` figure (`glassgpt report RUN`) draws these curves with the KL and the entropy; and
# `glassgpt explain RUN CONVERSATION --chat --advantage A` colours a reply's tokens by how an
# RL step moves them.
