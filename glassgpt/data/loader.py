"""Batches of (input, target) sequences from a memory-mapped token file.

Training batches start at seeded random offsets; the generator's state is plain JSON,
so a resumed run continues with exactly the batches it would have seen.  With several
processes (DDP), every rank draws the same offsets and takes its own stride of them.
Validation uses a fixed set of batches (same offsets at every evaluation) or the whole
split in consecutive windows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def _window(tokens: np.ndarray, offsets: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    idx = offsets[:, None] + np.arange(seq_len + 1)[None, :]
    chunk = tokens[idx].astype(np.int64)
    return chunk[:, :-1], chunk[:, 1:]


class BatchLoader:
    """Random windows of ``seq_len`` tokens; ``next(n)`` returns ``n`` of them as (x, y)."""

    def __init__(self, tokens: np.ndarray, seq_len: int, seed: int, rank: int = 0, world_size: int = 1):
        if len(tokens) < seq_len + 1:
            raise ValueError("token split shorter than one sequence")
        self.tokens, self.seq_len = tokens, seq_len
        self.rank, self.world_size = rank, world_size
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def next(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` sequences for this rank (all ranks draw ``n * world_size`` offsets)."""
        offsets = self.rng.integers(0, len(self.tokens) - self.seq_len, size=n * self.world_size)
        return _window(self.tokens, offsets[self.rank :: self.world_size], self.seq_len)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def fixed_batches(tokens: np.ndarray, seq_len: int, batch_size: int, n_batches: int, seed: int) -> list:
    """The same ``n_batches`` random batches every time (for comparable periodic evaluation)."""
    loader = BatchLoader(tokens, seq_len, seed)
    return [loader.next(batch_size) for _ in range(n_batches)]


def all_windows(tokens: np.ndarray, seq_len: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every token of the split exactly once as a target: consecutive windows of ``seq_len``
    (the last one shorter), ``batch_size`` windows per batch."""
    n = len(tokens) - 1
    starts = np.arange(0, n, seq_len)
    full = starts[starts + seq_len <= n]
    for i in range(0, len(full), batch_size):
        yield _window(tokens, full[i : i + batch_size], seq_len)
    rest = n - (full[-1] + seq_len if len(full) else 0)
    if rest > 0:
        start = np.array([n - rest])
        yield _window(tokens, start, rest)
