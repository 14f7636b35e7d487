"""What the row-parts tests of both engines share: a poem's characters as tokens, a small GPT run
configuration, batches of it, and a scope with N training threads."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from glassgpt.config import ModelConfig, RunConfig
from glassgpt.data.corpora import POEM
from glassgpt.data.loader import BatchLoader

TEXT = POEM[:3000]
CHARS = sorted(set(TEXT))
TOKENS = np.array([CHARS.index(c) for c in TEXT], dtype=np.uint16)


def run_config(**model) -> RunConfig:
    m = ModelConfig(vocab_size=len(CHARS), block_size=16, n_layer=2, n_head=2, n_embd=32, **model)
    settings = dict(
        batch_size=8, lr=3e-3, warmup_steps=0, max_steps=50, grad_clip=1.0, weight_decay=0.1, seed=7, device="cpu"
    )
    return RunConfig(model=m).updated({f"train.{k}": v for k, v in settings.items()})


@contextlib.contextmanager
def training_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def batches(n: int, rows: int = 8):
    loader = BatchLoader(TOKENS, 16, 3)
    return [loader.next(rows) for _ in range(n)]
