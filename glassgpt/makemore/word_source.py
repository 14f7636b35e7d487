"""A word list as training data: the makemore ladder trains through the same trainer, run
directory, checkpoints, evaluation and report as the GPT.

- **Train batches** (``ExampleBatches``): rows of the training split's examples drawn at
  random with replacement, as the lectures' ``torch.randint(0, len(X), (32,))`` (a seeded
  NumPy generator, its state saved with every checkpoint, so a resumed run sees exactly the
  batches it would have seen).  A batch at least as large as the split is the whole split,
  in order, every step: full-batch gradient descent (the neural bigram's), and the counting
  bigram's one pass (it always gets the whole split).
- **What a row is.**  For a ladder model, one example: the ``block_size`` previous characters
  and the next one.  For the GPT, one word: ``.`` + word in, word + ``.`` out (padded with
  ignored targets), so it trains on every position of every word at once.  Both cover the
  same targets — one per character plus the final ``.`` — so their losses compare: the GPT's
  loss per character is the mean over the very examples the ladder is scored on, each read
  from the start of its word.  With ``train.doc_mask`` the GPT's words are packed several to
  a row, each its own segment (``PackedWordBatches``).
- **Evaluation**: the periodic estimate is the first ``train.eval_batches`` batches of the dev
  split; the final evaluation reports dev as the run's loss and every split (train, dev, test)
  beside it.
- **Samples**: ten names, seeded.
- **Files**: the run keeps its word list (``data/words.txt``), so resuming, ``eval``, ``sample
  --mark-known`` and the report never need the original file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from glassgpt.config import DataFacts, RunConfig
from glassgpt.data.rows import best_fit, fill_rows
from glassgpt.data.source import Batch, Batches, EvalSet, token_byte_lengths
from glassgpt.errors import RunDirError, count
from glassgpt.fileio import atomic_write_text
from glassgpt.makemore.names import sample_names
from glassgpt.makemore.words import SPLITS, WordData, prepare_words, read_word_source, read_words
from glassgpt.rundir.layout import DATA_DIR, WORDS

#: names sampled at the end of a run (and at every train.sample_every)
END_SAMPLES = 10
#: examples per evaluation batch (windows), and words per batch for the GPT's rows
EVAL_ROWS, EVAL_WORDS = 4096, 256


class ExampleBatches:
    """Random rows of (X, Y) with replacement; ``whole`` (or a batch as large as the split): all rows."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, seed: int, whole: bool = False):
        self.X, self.Y, self.whole = X, Y, whole
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def next(self, n: int) -> Batch:
        if self.whole or n >= len(self.X):
            return self.X, self.Y
        ix = self.rng.integers(0, len(self.X), size=n)
        return self.X[ix], self.Y[ix]

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


class PackedWordBatches(ExampleBatches):
    """``train.doc_mask`` for the GPT on a word list: the words ``ExampleBatches`` draws,
    packed best fit into rows of ``width`` positions (``data.rows``), each word its own segment.

    A word attends only to itself and its positions start at 0, so its loss is exactly the
    one it has alone in a padded row (the same targets, the same mean): packing changes the
    speed, not the numbers.  A padded row of ``.`` + a 6-letter name uses 7 of its 16
    positions; packed rows use nearly all of theirs."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, seed: int, width: int):
        super().__init__(X, Y, seed)
        self.width = width

    def next(self, n: int) -> Batch:
        X, Y = super().next(n)
        return pack_words(X, Y, self.width)


def pack_words(X: np.ndarray, Y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Padded word rows (X, Y) packed into rows of ``width``: (x, y, segments).  A word is the
    positions of its row up to its last target ("." + word in, word + "." out)."""
    lengths = (Y != -1).sum(axis=1).tolist()
    words = [(X[i, :n], Y[i, :n]) for i, n in enumerate(lengths)]
    return fill_rows(words, best_fit(lengths, width), width)


def example_set(name: str, X: np.ndarray, Y: np.ndarray, rows: int, byte_lengths: np.ndarray) -> EvalSet:
    """The examples of one split in consecutive batches of ``rows``."""
    starts = range(0, len(X), max(1, rows))
    return EvalSet(
        name,
        lambda: ((X[i : i + rows], Y[i : i + rows]) for i in starts),
        len(starts),
        int((Y >= 0).sum()),
        byte_lengths,
    )


def words_text(data: WordData) -> str:
    """The ``data/words.txt`` of a run: one word per line."""
    return "".join(w + "\n" for w in data.words.words)


class WordSource:
    kind = "words"

    def __init__(self, cfg: RunConfig, data: WordData, notes: tuple[str, ...] = ()):
        self.cfg, self.data, self.notes = cfg, data, notes
        self.tokenizer = data.tokenizer
        m = cfg.model
        self.gpt = m.arch == "gpt"
        self.arrays = {s: data.arrays(s, m.block_size, sequences=self.gpt) for s in SPLITS}
        byte_lengths = token_byte_lengths(data.tokenizer)
        rows = EVAL_WORDS if self.gpt else EVAL_ROWS
        self.sets = {s: example_set(s, *self.arrays[s], rows, byte_lengths) for s in SPLITS}
        self.description = describe(data, self.arrays, self.gpt)

    @classmethod
    def build(cls, cfg: RunConfig, text: str | None = None) -> WordSource:
        """A new run's word list: the file or built-in list ``[data]`` names."""
        data = prepare_words(read_word_source(cfg.data), cfg.data.split_seed)
        skipped = data.words.skipped
        notes = (f"skipped {count(skipped, 'empty line')} of {data.words.source}.",) if skipped else ()
        return cls(cfg, data, notes)

    @classmethod
    def reopen(cls, cfg: RunConfig, tokenizer: Any, data_dir: Path) -> WordSource:
        """The word list a run kept (``data/words.txt``), checked against the run's vocabulary."""
        path = data_dir / WORDS
        run = data_dir.parent
        if not path.is_file():
            raise RunDirError(
                f"{run} has no {data_dir.name}/{WORDS}, the word list it was trained on; restore it, or start "
                "the run again with --overwrite."
            )
        data = prepare_words(read_words(path), cfg.data.split_seed)
        if data.tokenizer.to_dict() != tokenizer.to_dict():
            raise RunDirError(f"{path} no longer gives the run's vocabulary; the file was changed, restore it.")
        return cls(cfg, data)

    def facts(self) -> DataFacts:
        return DataFacts(vocab_size=self.tokenizer.vocab_size)

    def batches(self, seed: int, rank: int = 0, world_size: int = 1) -> Batches:
        X, Y = self.arrays["train"]
        if self.cfg.train.doc_mask:  # the GPT's words packed several to a row (validated: GPT only)
            return PackedWordBatches(X, Y, seed, self.cfg.model.block_size)
        return ExampleBatches(X, Y, seed, whole=self.cfg.model.arch == "bigram")

    def estimate_set(self) -> EvalSet:
        X, Y = self.arrays["dev"]
        rows = EVAL_WORDS if self.gpt else EVAL_ROWS
        n = self.cfg.train.eval_batches * rows
        return example_set("dev", X[:n], Y[:n], rows, self.sets["dev"].byte_lengths)

    def final_sets(self) -> list[EvalSet]:
        return [self.sets["dev"], *(self.sets[s] for s in SPLITS)]

    def sample(self, model: Any, seed: int, progress: bool = False) -> list[tuple[str, str]]:
        t = self.cfg.train
        names = sample_names(
            model, self.tokenizer, END_SAMPLES, seed, t.sample_temperature or 1.0, block_size=self.cfg.model.block_size
        )
        return [("", "\n".join(names))]

    def sample_seconds(self, model: Any, seed: int) -> float:
        return 0.0

    def save(self, data_dir: Path) -> None:
        atomic_write_text(data_dir / WORDS, words_text(self.data))

    def data_bytes(self) -> int:
        return len(words_text(self.data).encode("utf-8"))

    def shared(self) -> list[np.ndarray]:
        return []


def describe(data: WordData, arrays: dict, gpt: bool) -> str:
    """The header's data line: words read, skipped lines, and the split (in words, and for a
    ladder model in examples too; the GPT reads one word per example)."""
    sizes = " / ".join(f"{len(data.splits[s]):,}" for s in SPLITS)
    line = f"{data.words.summary()} → train / dev / test {sizes} words"
    if gpt:
        return line
    return line + ", " + " / ".join(f"{len(arrays[s][0]):,}" for s in SPLITS) + " examples"


def run_words(run_dir: str | Path, cfg: RunConfig, tokenizer: Any) -> WordData:
    """The words, vocabulary and split of a word-list run, rebuilt from its ``data/words.txt``."""
    return WordSource.reopen(cfg, tokenizer, Path(run_dir) / DATA_DIR).data
