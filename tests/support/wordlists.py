"""A small word list with structure, and tiny ladder runs trained on it through the CLI
for the tests in tests/makemore (importable as ``support.wordlists``)."""

from __future__ import annotations

import math
import random
from pathlib import Path

from glassgpt.cli import main

#: syllables of made-up names: a consonant is always followed by a vowel, so there is much to learn
SYLLABLES = ("ka", "li", "mo", "ra", "ne", "so", "ti", "bu")


def make_words(n: int = 400, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(n)]


#: '.' plus the 13 letters of the syllables
VOCAB = 1 + len(set("".join(SYLLABLES)))
LN_V = math.log(VOCAB)

#: per rung: the -fast preset and overrides that keep a test run to a second or two
RUNGS = {
    "bigram": ["--preset", "makemore-bigram-fast"],
    "neural-bigram": ["--preset", "makemore-neural-bigram-fast", "--set", "train.lr=10", "--max-steps", "40"],
    "mlp": [
        "--preset",
        "makemore-mlp-bn-fast",
        "--max-steps",
        "400",
        "--set",
        "model.n_hidden=32",
        "--set",
        "train.lr=0.3",
    ],
    "wavenet": [
        "--preset",
        "makemore-wavenet-fast",
        "--max-steps",
        "400",
        "--set",
        "model.n_hidden=16",
        "--set",
        "model.n_embd=8",
        "--set",
        "train.lr=0.3",
    ],
    "gpt": [
        "--preset",
        "makemore-gpt-fast",
        "--max-steps",
        "300",
        "--set",
        "model.n_layer=1",
        "--set",
        "model.n_embd=16",
        "--set",
        "model.n_head=2",
        "--set",
        "model.block_size=8",
        "--set",
        "train.lr=3e-3",
        "--set",
        "train.warmup_steps=10",
    ],
}


def write_words(folder: Path, words: list[str] | None = None, name: str = "words.txt") -> Path:
    path = Path(folder) / name
    path.write_text("\n".join(words or make_words()) + "\n")
    return path


def train_rung(rung: str, data: Path, out: Path, *extra: str) -> int:
    """``glassgpt train --model RUNG`` on ``data`` into ``out`` (quiet, one thread); the exit status."""
    return main(
        [
            "train",
            "--model",
            rung,
            *RUNGS[rung],
            "--data",
            str(data),
            "--out",
            str(out),
            "--quiet",
            "--threads",
            "1",
            "--set",
            "train.eval_every=50",
            *extra,
        ]
    )
