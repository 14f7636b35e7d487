"""Presets: named starting points for a run, each a table of settings over the defaults.

The GPT presets are here; the makemore ladder's live with the rest of the ladder
(``glassgpt.makemore.presets``) and join them in ``PRESETS``.
"""

from __future__ import annotations

from typing import Any

from glassgpt.errors import ConfigError
from glassgpt.makemore.presets import PRESETS as LADDER_PRESETS

#: the preset ``glassgpt train`` uses when none is named
DEFAULT = "baby"

#: the speedrun's block (docs/model.md): rotary positions, RMSNorm, ReLU², QK-norm, zero-initialised
#: output projections, no biases; the cpu-speedrun and arithmetic presets use it
MODERN_BLOCK: dict[str, Any] = dict(
    pos="rope",
    norm="rmsnorm",
    activation="relu2",
    qk_norm=True,
    zero_init_proj=True,
    bias=False,
    qkv_bias=False,
)

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "baby": {
        "model": dict(n_layer=4, n_head=4, n_embd=128, block_size=64),
        # `glassgpt train` with no arguments: at most ~4 minutes on 2 CPU cores, final evaluation included
        "train": dict(batch_size=32, lr=2e-3, max_steps=900, warmup_steps=100, eval_every=250, time_budget=210.0),
    },
    # the laptop speedrun: the best Tiny Shakespeare model 100 s of 2 CPU cores could buy in the
    # search of benchmarks/speedrun_search.py (docs/benchmarks.md): 3 layers of 2 heads with rotary
    # positions, RMSNorm, QK-norm, ReLU², zero-initialised projections, no biases and an untied
    # head; Muon (3 Newton–Schulz steps) for the blocks' matrices; bf16 autocast where the CPU
    # multiplies bfloat16 natively; warmup-stable-decay on the time clock, so the decay ends when
    # the 94 s budget (final evaluation included) runs out
    "cpu-speedrun": {
        "model": dict(
            n_layer=3,
            n_head=2,
            n_embd=128,
            block_size=128,
            **MODERN_BLOCK,
            tie_weights=False,
        ),
        "train": dict(
            batch_size=16,
            lr=2e-3,
            optimizer="muon",
            muon_ns_steps=3,
            schedule="wsd",
            decay_fraction=0.5,
            min_lr_ratio=0.0,
            schedule_clock="time",
            max_steps=1_000_000,
            warmup_steps=100,
            eval_every=250,
            time_budget=94.0,
            dtype="bfloat16",
        ),
    },
    "small": {
        "model": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2),
        "train": dict(batch_size=64, lr=1e-3, max_steps=5000, warmup_steps=100),
    },
    # the curriculum's last lecture: GPT-2 (124M) on ~0.5M tokens per step (10B tokens in 19,073 steps);
    # its tokenizer comes from a prepared corpus (glassgpt data prepare --tokenizer gpt2:r50k_base.tiktoken)
    "gpt2": {
        "model": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, pad_vocab_to=64),
        "data": dict(tokenizer="prepared"),
        "train": dict(
            batch_size=32,
            tokens_per_step=524288,
            lr=6e-4,
            beta2=0.95,
            warmup_steps=715,
            max_steps=19073,
            weight_decay=0.1,
            grad_clip=1.0,
            min_lr_ratio=0.1,
            eval_every=250,
            eval_batches=20,
            save_every=1000,
            dtype="bfloat16",
            compile=True,
            tf32=True,
            flash=True,
        ),
    },
    # docs/curriculum.md, B2: exactly 27,747 parameters on the 35-word nursery vocabulary.
    "nursery": {
        "model": dict(
            n_layer=2,
            n_head=2,
            n_embd=32,
            block_size=6,
            d_ff=128,
            activation="relu",
            qkv_bias=False,
            bias=True,
            tie_weights=False,
            head_bias=True,
        ),
        "data": dict(corpus="nursery", tokenizer="word", val_fraction=0.0),
        "train": dict(
            batch_size=16,
            lr=1e-3,
            beta2=0.999,
            weight_decay=0.01,
            max_steps=1500,
            warmup_steps=0,
            schedule="constant",
            grad_clip=0.0,
            eval_every=0,
            save_every=500,
        ),
    },
    # docs/curriculum.md, A9: the byte-level poem model, about 241k parameters.
    "poem": {
        "model": dict(n_layer=4, n_head=4, n_embd=64, block_size=128, tie_weights=False, head_bias=False),
        "data": dict(corpus="poem", tokenizer="byte", val_fraction=0.0),
        "train": dict(
            batch_size=16,
            seq_len=64,
            lr=3e-4,
            beta2=0.999,
            weight_decay=0.01,
            max_steps=1500,
            warmup_steps=0,
            schedule="constant",
            grad_clip=0.0,
            log_every=10,
            eval_every=0,
            sample_prompts=["All that ", "Young in ", "Gilded "],
            sample_tokens=80,
        ),
    },
    # the arithmetic task (glassgpt.tasks.arithmetic, docs/stages.md): a small char model pretrained on
    # 12+34=46 lines in a few CPU-minutes (4,000 steps), the base model the stages after pretraining start from; the
    # context holds a chat turn with the reward model's readout token (17 tokens at most); width 128 so that
    # LoRA rank 8 on q, k, v, o trains under 5% of the weights.  The speedrun's block and Muon: measured on the
    # held-out split after 4,000 steps, 64.8% greedy accuracy against 7.2% for the GPT-2 block with AdamW at 3e-3
    "arithmetic": {
        "model": dict(
            n_layer=2,
            n_head=4,
            n_embd=128,
            block_size=32,
            dropout=0.0,
            **MODERN_BLOCK,
        ),
        "data": dict(corpus="arithmetic", tokenizer="char", val_fraction=0.02),
        "train": dict(
            batch_size=32,
            lr=2e-3,
            optimizer="muon",
            max_steps=4000,
            warmup_steps=100,
            eval_every=500,
            eval_batches=10,
            sample_prompts=["12+34=", "305-48="],
            sample_tokens=24,
            sample_temperature=0.0,
        ),
    },
}

# the ten-minute speedrun: the laptop speedrun's recipe given six times the time (594 s of training and
# final evaluation), so a bigger model pays: 4 layers of width 192 (3 heads of 64) and a longer warmup; and
# with ~7 passes over the corpus it overfits, so its weight decay is 0.5 instead of 0.1 (measured in
# docs/benchmarks.md, "The ten-minute speedrun")
PRESETS["cpu-speedrun-10m"] = {
    "model": {**PRESETS["cpu-speedrun"]["model"], "n_layer": 4, "n_head": 3, "n_embd": 192},
    "train": {**PRESETS["cpu-speedrun"]["train"], "warmup_steps": 200, "time_budget": 594.0, "weight_decay": 0.5},
}

PRESETS.update(LADDER_PRESETS)


def preset_settings(name: str) -> dict[str, dict[str, Any]]:
    """The settings of preset ``name``; one sentence naming the presets for an unknown one."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name]
