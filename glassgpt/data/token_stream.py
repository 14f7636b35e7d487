"""What the two token-stream sources share: a training split and a validation split of
token ids, seen through windows of ``seq_len`` tokens.

``TextSource`` (the run's own token cache) and ``CorpusSource`` (a prepared corpus's shards)
differ only in where the tokens live and how training windows are drawn; everything else
is here:

- the periodic estimate: the same ``train.eval_batches`` random batches every time (seeded
  from ``train.seed + 1``) of the validation split, or of the training split when there is
  no validation split;
- the final evaluation: every token of that split once, in consecutive windows;
- ``train.doc_mask``: batches carry segment ids, one document per ``<|endoftext|>``
  (``data.documents``), so attention and positions restart at every document;
- samples: each of ``train.sample_prompts`` (or a neutral start) continued by
  ``train.sample_tokens`` tokens, the i-th drawn from a generator seeded ``seed + i``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from glassgpt.config import DataFacts, RunConfig
from glassgpt.data.documents import DocumentBatches
from glassgpt.data.loader import all_windows, fixed_batches
from glassgpt.data.source import Batch, Batches, EvalSet, fixed, token_byte_lengths
from glassgpt.generation.sampling import default_prompt_ids, generate
from glassgpt.models.segments import document_segments
from glassgpt.progress import task
from glassgpt.tokenizers import END_OF_TEXT, Tokenizer


class TokenStream:
    """The shared part of ``TextSource`` and ``CorpusSource`` (see the module docstring)."""

    kind = ""

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, train: Any, val: Any, description: str):
        self.cfg, self.tokenizer = cfg, tokenizer
        self.train_tokens, self.val_tokens = train, val
        self.description = description
        self.notes: tuple[str, ...] = ()
        self.seq_len = cfg.seq_len
        self.eot = tokenizer.special_tokens.get(END_OF_TEXT) if cfg.train.doc_mask else None
        self._byte_lengths: np.ndarray | None = None

    # ---- what a subclass provides -------------------------------------------------------
    def loader(self, seed: int, rank: int, world_size: int) -> Batches:
        """Training windows of this source's training split."""
        raise NotImplementedError

    # ---- the DataSource interface -------------------------------------------------------
    def facts(self) -> DataFacts:
        return DataFacts(vocab_size=self.tokenizer.vocab_size)

    @property
    def byte_lengths(self) -> np.ndarray:
        if self._byte_lengths is None:
            self._byte_lengths = token_byte_lengths(self.tokenizer)
        return self._byte_lengths

    def batches(self, seed: int, rank: int = 0, world_size: int = 1) -> Batches:
        loader = self.loader(seed, rank, world_size)
        return DocumentBatches(loader, self.eot) if self.eot is not None else loader

    def eval_split(self) -> tuple[Any, str]:
        """The split evaluations measure: validation, or training when there is no validation split."""
        if len(self.val_tokens) > self.seq_len:
            return self.val_tokens, "val"
        return self.train_tokens, "train"

    def _segmented(self, batch: tuple[np.ndarray, np.ndarray]) -> Batch:
        x, y = batch
        return (x, y, document_segments(x, self.eot)) if self.eot is not None else (x, y)

    def estimate_set(self) -> EvalSet:
        t = self.cfg.train
        tokens, name = self.eval_split()
        batches = fixed_batches(tokens, self.seq_len, t.batch_size, t.eval_batches, t.seed + 1)
        return fixed(name, [self._segmented(b) for b in batches], self.byte_lengths)

    def final_sets(self) -> list[EvalSet]:
        tokens, name = self.eval_split()
        batch_size = self.cfg.train.batch_size
        n = max(0, len(tokens) - 1)
        full, rest = n // self.seq_len, n % self.seq_len
        count = -(-full // batch_size) + (1 if rest else 0)

        def batches() -> Iterator[Batch]:
            for batch in all_windows(tokens, self.seq_len, batch_size):
                yield self._segmented(batch)

        return [EvalSet(name, batches, count, n, self.byte_lengths)]

    def _prompts(self) -> list[tuple[str, list[int]]]:
        prompts = self.cfg.train.sample_prompts
        if prompts:
            return [(p, self.tokenizer.encode(p)) for p in prompts]
        return [("", default_prompt_ids(self.tokenizer))]

    def sample(self, model: Any, seed: int, progress: bool = False) -> list[tuple[str, str]]:
        t = self.cfg.train
        if not t.sample_tokens:
            return []
        prompts = self._prompts()
        out = []
        with task("sampling", len(prompts) * t.sample_tokens, enabled=progress) as bar:
            for i, (label, ids) in enumerate(prompts):
                new = generate(
                    model,
                    ids,
                    t.sample_tokens,
                    temperature=t.sample_temperature,
                    seed=seed + i,
                    max_context=self.seq_len,
                    on_token=bar.advance,
                )[0]
                out.append((label, self.tokenizer.decode(ids + new)))
        return out

    def sample_seconds(self, model: Any, seed: int) -> float:
        """The end-of-run samples' predicted seconds: a short sample timed and scaled (past the
        context length, so both the cached and the cropped regime are in it)."""
        t = self.cfg.train
        n = min(t.sample_tokens, self.seq_len + 16)
        if not n:
            return 0.0
        start = time.perf_counter()
        generate(
            model,
            default_prompt_ids(self.tokenizer),
            n,
            temperature=t.sample_temperature,
            seed=seed,
            max_context=self.seq_len,
        )
        return (time.perf_counter() - start) / n * t.sample_tokens * max(1, len(t.sample_prompts))

    def shared(self) -> list[np.ndarray]:
        """What the other ranks of a distributed run receive from rank 0 (nothing: they open the data)."""
        return []
