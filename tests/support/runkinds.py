"""One small finished run of every kind of run glassgpt makes, built once per test session.

``RUNS`` names each: the GPT on text with each tokenizer (char, word, BPE), on the glass
engine, with the speedrun's block, on a prepared corpus; the five rungs of the makemore
ladder on a word list (the counting and neural bigram, the MLP, the WaveNet, the GPT); an
ensemble; a chat fine-tune; a GPT-2 imported from a Hugging Face folder; after the fine-tune, a
reward model, a chat run trained by RL against it, and one trained by DPO with LoRA adapters.  Each trains for a
few steps on the built-in poem or a made-up word list, so the whole set takes seconds.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from glassgpt.config import resolve
from glassgpt.data.corpora import POEM
from glassgpt.data.prepare import prepare
from glassgpt.interop import export_hf, import_hf
from glassgpt.stages.dpo import dpo
from glassgpt.stages.finetune import finetune
from glassgpt.stages.lora import Lora
from glassgpt.stages.reward import train_reward_model
from glassgpt.stages.rl import rl
from glassgpt.training.launch import train

#: the fixture name -> the kind its config.json must name
RUNS = {
    "gpt-char": "gpt",
    "gpt-word": "gpt",
    "gpt-bpe": "gpt",
    "gpt-glass": "gpt",
    "gpt-speedrun": "gpt",
    "gpt-corpus": "gpt",
    "bigram": "bigram",
    "neural-bigram": "neural-bigram",
    "mlp": "mlp",
    "wavenet": "wavenet",
    "gpt-words": "gpt-words",
    "ensemble": "ensemble",
    "chat": "chat",
    "imported": "imported",
    "reward": "reward",
    "chat-rl": "chat",
    "chat-dpo-lora": "chat",
}

SMALL = {"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "model.block_size": 16}
SHORT = {
    "train.max_steps": 4,
    "train.batch_size": 4,
    "train.eval_every": 2,
    "train.eval_batches": 1,
    "train.save_every": 2,
    "train.log_every": 1,
    "train.sample_tokens": 8,
    "train.warmup_steps": 0,
    "train.threads": 1,
}
SYLLABLES = ("ka", "li", "mo", "ra", "ne", "so", "ti", "bu")


def words(n: int = 300, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) + "\n" for _ in range(n))


def chat_lines() -> str:
    pairs = [("all", "gold"), ("young", "old"), ("gilded", "tombs"), ("had", "you")]
    messages = [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in pairs * 3]
    return "".join(json.dumps({"messages": m}) + "\n" for m in messages)


def pairs_lines() -> str:
    """Preference pairs in the chat runs' letters: each question's own answer against another's."""
    pairs = [("all", "gold", "old"), ("young", "old", "tombs"), ("gilded", "tombs", "you"), ("had", "you", "gold")]
    return "".join(json.dumps({"prompt": q, "chosen": c, "rejected": r}) + "\n" for q, c, r in pairs * 2)


def prompt_lines() -> str:
    return "".join(json.dumps({"prompt": q, "answer": a}) + "\n" for q, a in (("all", "gold"), ("young", "old")) * 2)


def _text(root: Path, out: str, settings: dict, preset: str = "baby", text: str = POEM[:3000]) -> Path:
    cfg = resolve(preset, overrides={"data.corpus": "", **SMALL, **SHORT, **settings})
    return train(root / out, config=cfg, text=text).run_dir


def _words(root: Path, out: str, preset: str, settings: dict) -> Path:
    data = root / "words.txt"
    if not data.exists():
        data.write_text(words(), encoding="utf-8")
    cfg = resolve(preset, overrides={"data.path": str(data), "data.corpus": "", **SHORT, **settings})
    return train(root / out, config=cfg).run_dir


def build(root: Path) -> dict[str, Path]:
    """Every run of ``RUNS`` under ``root``."""
    torch.set_num_threads(1)
    runs = {
        "gpt-char": _text(root, "gpt-char", {}),
        "gpt-word": _text(root, "gpt-word", {"data.tokenizer": "word", "model.block_size": 6}, text=POEM[:2000]),
        "gpt-bpe": _text(root, "gpt-bpe", {"data.tokenizer": "bpe", "data.vocab_size": 280}),
        "gpt-glass": _text(root, "gpt-glass", {"train.engine": "glass"}),
        "gpt-speedrun": _text(
            root,
            "gpt-speedrun",
            {"train.time_budget": 0.0, "train.schedule_clock": "steps", "train.max_steps": 4},
            preset="cpu-speedrun",
        ),
    }
    corpus_in = root / "corpus-in"
    corpus_in.mkdir(exist_ok=True)
    (corpus_in / "a.txt").write_text(POEM[:6000], encoding="utf-8")
    prepare(
        [corpus_in],
        "cl100k",
        root / "corpus",
        shard_tokens=1000,
        workers=1,
        progress=False,
        piece_bytes=256,
        val_fraction=0.2,
    )
    cfg = resolve("baby", overrides={"data.path": str(root / "corpus"), "data.corpus": "", **SMALL, **SHORT})
    runs["gpt-corpus"] = train(root / "gpt-corpus", config=cfg).run_dir
    ladder = {"model.n_hidden": 8, "model.n_embd": 4}
    runs["bigram"] = _words(root, "bigram", "makemore-bigram", {"train.max_steps": 1, "train.save_every": 1})
    runs["neural-bigram"] = _words(root, "neural-bigram", "makemore-neural-bigram", {})
    runs["mlp"] = _words(root, "mlp", "makemore-mlp-bn", ladder)
    runs["wavenet"] = _words(root, "wavenet", "makemore-wavenet", ladder)
    gpt = {"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16}
    runs["gpt-words"] = _words(root, "gpt-words", "makemore-gpt", gpt)
    tuned = {**gpt, "train.time_budget": 0.0, "train.schedule_clock": "steps", "train.batch_size": 8}
    runs["ensemble"] = _words(root, "ensemble", "makemore-tuned", tuned)
    sft = root / "chat.jsonl"
    sft.write_text(chat_lines(), encoding="utf-8")
    runs["chat"] = finetune(runs["gpt-char"], sft, root / "chat", max_steps=3, batch_size=2, eval_every=0).run_dir
    export_hf(runs["gpt-char"], root / "hf")
    runs["imported"] = import_hf(root / "hf", root / "imported")
    (root / "pairs.jsonl").write_text(pairs_lines(), encoding="utf-8")
    (root / "prompts.jsonl").write_text(prompt_lines(), encoding="utf-8")
    short = {"max_steps": 2, "batch_size": 2, "eval_every": 0}
    runs["reward"] = train_reward_model(runs["chat"], root / "pairs.jsonl", root / "reward", **short).run_dir
    runs["chat-rl"] = rl(
        runs["chat"],
        root / "chat-rl",
        reward=runs["reward"],
        prompts=root / "prompts.jsonl",
        group_size=2,
        prompts_per_step=2,
        max_new_tokens=3,
        max_steps=2,
        eval_every=0,
    ).run_dir
    runs["chat-dpo-lora"] = dpo(
        runs["chat"], root / "pairs.jsonl", root / "chat-dpo-lora", lora=Lora(2), **short
    ).run_dir
    return runs
