"""Data a caller prepares for the trainer, instead of the text the run's ``[data]`` section names.

``Trainer(cfg, run_dir, prepared=PreparedData(...))`` trains on any batches: supervised
fine-tuning (``glassgpt.finetune``) uses it, and any other kind of data can.  The trainer
then skips its own text → tokenizer → token-file pipeline and asks the prepared data for:

- ``tokenizer``: saved as the run's tokenizer (the model's vocabulary size comes from it);
- ``train``: a batch source, ``next(n) -> (x, y)`` or ``(x, y, segments)`` (int64 arrays
  (n, T); targets of -1 are ignored; ``segments`` are per-token document ids: attention
  stays inside a segment and positions restart at each), and ``state()`` / ``set_state()``
  (plain JSON) so a checkpoint resumes the exact batch sequence;
- ``eval``: ``evaluate(eval_sums, max_batches=None) -> {"loss", "perplexity",
  "bits_per_byte", "tokens", "bytes"}`` (as ``evaluation.evaluate_tokens``) for the periodic estimate (``train.eval_batches``
  batches) and the final evaluation (all of them);
- ``weights``: the new run's starting weights (None: a fresh initialisation from the seed);
- ``reports``: more evaluation sets the final evaluation measures too, each reported under
  ``"splits"`` in ``summary.json`` (a word list's train, dev and test);
- ``data_files``: text files (name -> content) the new run keeps in its ``data/`` folder, so
  it can be resumed and evaluated without the caller (a word list keeps its words);
- ``sample``: ``sample(model, seed) -> [text, ...]``, the samples recorded at the end of the
  run (and every ``train.sample_every`` steps) instead of continuing ``train.sample_prompts``;
- ``description``: the start-up header's data line; ``notes``: sentences a new run prints on
  stderr even when quiet (e.g. how many empty lines of a word list were skipped).

``BatchEvalSet`` is the evaluation over a fixed list of batches that most sources need.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from glassgpt.evaluation import perplexity
from glassgpt.tokenizers import Tokenizer


class BatchSource(Protocol):
    def next(self, n: int) -> tuple[np.ndarray, ...]:
        """The next ``n`` rows: (x, y) or (x, y, segments)."""

    def state(self):
        """JSON-able position in the batch sequence."""

    def set_state(self, state) -> None:
        """Continue from what ``state()`` returned."""


class EvalSet(Protocol):
    def evaluate(self, eval_sums: Callable[..., tuple[float, int]], max_batches: int | None = None) -> dict:
        """Loss figures over the evaluation data (``eval_sums(x, y[, segments]) -> (nll sum, targets)``)."""


@dataclass
class PreparedData:
    tokenizer: Tokenizer
    train: BatchSource
    eval: EvalSet
    split: str = "val"  # what the final evaluation is called in summary.json
    weights: dict[str, torch.Tensor] | None = None  # starting weights; None: initialised from the seed
    reports: dict[str, EvalSet] = field(default_factory=dict)  # also measured by the final evaluation
    data_files: dict[str, str] = field(default_factory=dict)  # written into the new run's data/
    sample: Callable[[torch.nn.Module, int], list[str]] | None = None
    description: str = ""
    notes: list[str] = field(default_factory=list)


class BatchEvalSet:
    """Evaluation over fixed batches (x, y[, segments]): loss per counted target (y != -1) and
    bits per byte over the UTF-8 bytes of those targets."""

    def __init__(self, batches: list[tuple[np.ndarray, ...]], byte_lengths: np.ndarray):
        self.batches = batches
        self.byte_lengths = byte_lengths

    def evaluate(self, eval_sums, max_batches: int | None = None) -> dict:
        total, count, n_bytes = 0.0, 0, 0
        for batch in self.batches[:max_batches]:
            s, n = eval_sums(*batch)
            y = np.asarray(batch[1])
            total, count = total + s, count + n
            n_bytes += int(self.byte_lengths[y[y >= 0]].sum())
        mean = total / max(count, 1)
        return {
            "loss": mean,
            "perplexity": perplexity(mean),
            "bits_per_byte": total / math.log(2) / max(n_bytes, 1),
            "tokens": count,
            "bytes": n_bytes,
        }
