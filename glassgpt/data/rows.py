"""Examples of different lengths packed into rows of a fixed capacity, each example its own
segment: the rows the SFT trainer (``finetune.batches``) and the GPT on a word list
(``training.words``) train on.

- ``best_fit``: which examples share a row.  Each example, in the given order, goes into the
  open row with the least room that still fits it, else starts a new row.
- ``fill_rows``: the rows themselves, (x, y, segments): the examples of a row one after
  another, segment k for the k-th, then padding (token 0, target -1, a segment of its own).
  With ``document_positions`` every example attends only to itself from position 0, so it is
  computed exactly as if it were alone.
"""

from __future__ import annotations

import bisect

import numpy as np


def best_fit(lengths: list[int], capacity: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into rows of at most ``capacity``, best fit in the given order."""
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, row index), sorted
    for i, n in enumerate(lengths):
        if n > capacity:
            raise ValueError(f"an example of {n} positions does not fit a row of {capacity}")
        k = bisect.bisect_left(free, (n, -1))
        if k < len(free):
            room, r = free.pop(k)
            rows[r].append(i)
            if room - n > 0:
                bisect.insort(free, (room - n, r))
        else:
            rows.append([i])
            if capacity - n > 0:
                bisect.insort(free, (capacity - n, len(rows) - 1))
    return rows


def fill_rows(
    examples: list[tuple[np.ndarray, np.ndarray]], rows: list[list[int]], capacity: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, segments), each (len(rows), capacity): the examples of each row one after another,
    segment k for the k-th, then padding (token 0, target -1, the next segment id)."""
    x = np.zeros((len(rows), capacity), dtype=np.int64)
    y = np.full((len(rows), capacity), -1, dtype=np.int64)
    seg = np.zeros((len(rows), capacity), dtype=np.int64)
    for r, members in enumerate(rows):
        at = 0
        for k, i in enumerate(members):
            ex, ey = examples[i]
            x[r, at : at + len(ex)], y[r, at : at + len(ex)], seg[r, at : at + len(ex)] = ex, ey, k
            at += len(ex)
        seg[r, at:] = len(members)
    return x, y, seg
