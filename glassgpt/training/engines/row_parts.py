"""A micro-batch's rows cut into one part per training thread, each part on its own core.

Both engines use it on the CPU.  A step's element-wise work and its many small products do
not spread well over threads inside one operation (NumPy runs them on one core; torch's
parallel regions wait for their slowest thread at every operation, which on a busy machine
means waiting for a thread the scheduler has parked behind another program).  Cutting the
rows instead gives every thread a whole forward and backward of its own, single-threaded,
that waits for nothing until its gradients are summed.

- ``row_parts(targets, parts)``: where each part starts and stops, and its share of the
  counted targets (``targets != -1``): the mean loss of the whole is the sum of the parts'
  mean losses weighted by their shares, and so is its gradient;
- ``even_groups(costs, n)``: work items (the optimizer's updates) in ``n`` groups of about
  equal cost, one group per thread for the optimizer step;
- ``PartThreads``: the helper threads that run every part but the first, which runs on the
  calling thread; results come back in part order, so the gradients are summed in the same
  order whatever the scheduler did, and a run gives the same bytes on a quiet or a busy machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np


def row_parts(targets: np.ndarray, parts: int) -> list[tuple[int, int, float]]:
    """(start, stop, share) of each of ``parts`` parts of the rows of ``targets`` (as even as
    the rows allow); empty when the rows count no target (the caller runs them whole)."""
    counted = (np.asarray(targets) != -1).reshape(len(targets), -1).sum(axis=1)
    total = int(counted.sum())
    if not total:
        return []
    bounds = np.linspace(0, len(targets), parts + 1).round().astype(int)
    return [(int(a), int(b), float(counted[a:b].sum()) / total) for a, b in zip(bounds[:-1], bounds[1:])]


def even_groups(costs: Sequence[float], n: int) -> list[list[int]]:
    """The indices of ``costs`` in at most ``n`` groups of about equal total cost (costliest
    first, each to the lightest group so far; ties by index), empty groups left out."""
    groups: list[list[int]] = [[] for _ in range(max(1, n))]
    loads = [0.0] * len(groups)
    for i in sorted(range(len(costs)), key=lambda k: (-costs[k], k)):
        lightest = loads.index(min(loads))
        groups[lightest].append(i)
        loads[lightest] += costs[i]
    return [g for g in groups if g]


class PartThreads:
    """``run(fn, jobs)``: ``fn(*job)`` for every job, the first on the calling thread and the
    others on helper threads (created on first use, as many as needed), results in job order."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0

    def run(self, fn: Callable[..., Any], jobs: Sequence[tuple]) -> list[Any]:
        if len(jobs) - 1 > self._size:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._size = len(jobs) - 1
            self._pool = ThreadPoolExecutor(self._size, thread_name_prefix="glassgpt-part")
        others = [self._pool.submit(fn, *job) for job in jobs[1:]] if self._pool else []
        first = fn(*jobs[0])
        return [first] + [f.result() for f in others]

    @property
    def started(self) -> bool:
        return self._pool is not None
