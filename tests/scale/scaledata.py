"""Small corpora built on the spot for the scale-out tests (importable as ``scaledata``)."""

from __future__ import annotations

import random

WORDS = ("the cat sat on a mat while rain fell over grey hills and quiet rivers ran to the sea; "
         "nobody knew why, but everyone agreed it was 42 times better than yesterday").split()


def make_docs(n: int, seed: int = 0, words: tuple[int, int] = (5, 80)) -> list[str]:
    """``n`` distinct documents of several lines each (every one starts with its number)."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        lines = []
        for _ in range(rng.randint(1, 6)):
            lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(*words))).capitalize() + ".")
        docs.append(f"Doc {i}.\n" + "\n".join(lines) + "\n")
    return docs
