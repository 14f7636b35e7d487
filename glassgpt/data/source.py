"""DataSource: every kind of training data behind one interface.

The trainer never asks what it trains on.  Text tokens (``data.text_source``), a prepared
corpus's shards (``data.corpus_source``), a word list (``glassgpt.makemore.word_source``) and
conversations (``data.conversation_source``) each provide:

- ``tokenizer``: the run's tokenizer (the model's vocabulary size comes from it);
- ``facts()``: what the data found out for the configuration (``config.derive``);
- ``batches(seed, rank, world_size)``: the training batches, a ``Batches``: ``next(n)`` gives
  ``(x, y)`` or ``(x, y, segments)`` int64 arrays of n rows (targets of -1 are ignored;
  ``segments`` are per-token document ids: attention stays inside one and positions restart
  at each), and ``state()`` / ``set_state()`` (plain JSON) let a checkpoint resume the exact
  sequence of batches;
- ``estimate_set()``: the fixed batches of the periodic estimate (the same at every step);
- ``final_sets()``: what the final evaluation measures, every target once; the first set is
  the run's loss, any others are reported beside it (a word list's train, dev and test);
- bits per byte: every ``EvalSet`` carries the UTF-8 byte length of every token id, so
  ``measure`` divides the loss in bits by the bytes of the predicted text; ids a tokenizer
  leaves unassigned (cl100k's gaps) count 0 bytes;
- ``sample(model, seed)``: the texts sampled during and at the end of training;
- ``save(data_dir)``: what a new run keeps in its ``data/`` folder so that resuming, ``eval``
  and the other ranks of a distributed run can open the same data again without the
  original files (``reopen`` in ``data.open``), and ``data_bytes()``: how much that is;
- ``description`` (the header's data line) and ``notes`` (sentences a new run prints on
  stderr even when quiet).

``data.open.open_source`` builds the one a configuration names before the trainer exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from glassgpt.config import DataFacts
from glassgpt.progress import task
from glassgpt.tokenizers import Tokenizer

#: one batch: (x, y) or (x, y, segments), int64 arrays of the same shape
Batch = tuple[np.ndarray, ...]
#: ``sums(x, y[, segments]) -> (summed loss in nats, counted targets)``
Sums = Callable[..., tuple[float, int]]


class Batches(Protocol):
    def next(self, n: int) -> Batch:
        """The next ``n`` rows."""
        ...

    def state(self) -> Any:
        """JSON-able position in the batch sequence."""
        ...

    def set_state(self, state: Any) -> None:
        """Continue from what ``state()`` returned."""
        ...


@dataclass(frozen=True)
class EvalSet:
    """Fixed evaluation batches: ``batches()`` yields them (afresh each call, so a memory
    map or a prepared corpus is never read whole), ``count`` of them, ``targets`` counted
    targets in all, and the UTF-8 byte length of every token id."""

    name: str
    batches: Callable[[], Iterable[Batch]]
    count: int
    targets: int
    byte_lengths: np.ndarray


def measure(
    sums: Sums,
    data: EvalSet,
    max_batches: int | None = None,
    progress: bool = False,
    label: str = "",
    reduce: Callable[[float, int], tuple[float, int]] | None = None,
) -> dict[str, float | int]:
    """``{"loss", "perplexity", "bits_per_byte", "tokens", "bytes"}`` over the first
    ``max_batches`` batches of ``data`` (None: all).  ``reduce(total, count)``: the sums of
    every process, when each batch ran on one of them."""
    total, count, n_bytes = 0.0, 0, 0
    n = data.count if max_batches is None else min(data.count, max_batches)
    with task(label or f"evaluating {data.name}", n, enabled=progress) as bar:
        for i, batch in enumerate(data.batches()):
            if i == n:
                break
            s, c = sums(*batch)
            y = np.asarray(batch[1])
            total, count = total + s, count + c
            n_bytes += int(data.byte_lengths[y[y >= 0]].sum())
            bar.advance()
    if reduce is not None:
        total, count = reduce(total, count)
    mean = total / max(count, 1)
    return {
        "loss": mean,
        "perplexity": perplexity(mean),
        "bits_per_byte": total / math.log(2) / max(n_bytes, 1),
        "tokens": count,
        "bytes": n_bytes,
    }


def perplexity(mean_loss: float) -> float:
    return math.exp(mean_loss) if mean_loss < 700 else float("inf")


def token_byte_lengths(tokenizer: Tokenizer, text_only: bool = False) -> np.ndarray:
    """The UTF-8 byte length of every id of ``tokenizer``: 0 for an id the tokenizer leaves
    unassigned (cl100k has gaps below its special tokens) and, with ``text_only``, for special
    tokens (the bits per byte of a reply's text)."""
    lengths = np.zeros(tokenizer.vocab_size, dtype=np.int64)
    for i in range(tokenizer.vocab_size):
        if tokenizer.is_assigned(i):
            lengths[i] = len(tokenizer.token_bytes(i))
    if text_only:
        lengths[list(tokenizer.special_tokens.values())] = 0
    return lengths


def fixed(name: str, batches: list[Batch], byte_lengths: np.ndarray) -> EvalSet:
    """An ``EvalSet`` of batches held in memory."""
    targets = sum(int((np.asarray(b[1]) >= 0).sum()) for b in batches)
    return EvalSet(name, lambda: iter(batches), len(batches), targets, byte_lengths)


class DataSource(Protocol):
    kind: str
    tokenizer: Tokenizer
    description: str
    notes: tuple[str, ...]

    def facts(self) -> DataFacts: ...

    def batches(self, seed: int, rank: int = 0, world_size: int = 1) -> Batches: ...

    def estimate_set(self) -> EvalSet: ...

    def final_sets(self) -> list[EvalSet]: ...

    def sample(self, model: Any, seed: int, progress: bool = False) -> list[tuple[str, str]]:
        """``(prompt, text)`` pairs: what the run records in ``samples.jsonl``."""
        ...

    def save(self, data_dir: Path) -> None: ...

    def data_bytes(self) -> int: ...


def first_batches(data: EvalSet, n: int) -> Iterator[Batch]:
    """The first ``n`` batches of ``data`` (for timing the evaluation before the first step)."""
    for i, batch in enumerate(data.batches()):
        if i == n:
            return
        yield batch
