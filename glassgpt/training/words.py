"""A word list as the trainer's prepared data (``prepared.PreparedData``): the makemore ladder
trains through the same trainer, run directory, checkpoints, evaluation and report as the GPT.

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
  from the start of its word.
- **Evaluation**: the periodic estimate is the first ``train.eval_batches`` batches of the dev
  split; the final evaluation reports dev as the run's loss and every split (train, dev, test)
  under ``"splits"``.
- **Files**: the run keeps its word list (``data/words.txt``), so resuming, ``eval``, ``sample
  --mark-known`` and the report never need the original file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glassgpt import rundir
from glassgpt.config import RunConfig
from glassgpt.data.rows import best_fit, fill_rows
from glassgpt.data.words import SPLITS, WordData, prepare_words, read_word_source, read_words
from glassgpt.errors import RunDirError, count
from glassgpt.evaluation import evaluate_examples, token_byte_lengths
from glassgpt.tokenizers import load as load_tokenizer
from glassgpt.training.prepared import PreparedData
from glassgpt.wordruns import EVAL_ROWS, EVAL_WORDS, sample_names, words_text

#: names sampled at the end of a run (and at every train.sample_every)
END_SAMPLES = 10


class ExampleBatches:
    """Random rows of (X, Y) with replacement; ``whole`` (or a batch as large as the split): all rows."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, seed: int, whole: bool = False):
        self.X, self.Y, self.whole = X, Y, whole
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def next(self, n: int) -> tuple[np.ndarray, np.ndarray]:
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

    def next(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, Y = super().next(n)
        return pack_words(X, Y, self.width)


def pack_words(X: np.ndarray, Y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Padded word rows (X, Y) packed into rows of ``width``: (x, y, segments).  A word is the
    positions of its row up to its last target ("." + word in, word + "." out)."""
    lengths = (Y != -1).sum(axis=1).tolist()
    words = [(X[i, :n], Y[i, :n]) for i, n in enumerate(lengths)]
    return fill_rows(words, best_fit(lengths, width), width)


class ExampleEvalSet:
    """The examples of one split, evaluated in consecutive batches (``evaluation.evaluate_examples``)."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, rows: int, byte_lengths: np.ndarray):
        self.X, self.Y, self.rows, self.byte_lengths = X, Y, rows, byte_lengths

    def evaluate(self, eval_sums, max_batches: int | None = None) -> dict:
        return evaluate_examples(eval_sums, self.X, self.Y, self.rows, self.byte_lengths, max_batches)


def describe(data: WordData, arrays: dict, gpt: bool) -> str:
    """The header's data line: words read, skipped lines, and the split (in words, and for a
    ladder model in examples too; the GPT reads one word per example)."""
    sizes = " / ".join(f"{len(data.splits[s]):,}" for s in SPLITS)
    line = f"{data.words.summary()} → train / dev / test {sizes} words"
    if gpt:
        return line
    return line + ", " + " / ".join(f"{len(arrays[s][0]):,}" for s in SPLITS) + " examples"


def word_data(cfg: RunConfig, run_dir: Path, resume: bool) -> WordData:
    """The run's words: its own ``data/words.txt`` when resuming, else the list ``cfg.data`` names."""
    if not resume:
        return prepare_words(read_word_source(cfg.data), cfg.data.split_seed)
    path = Path(run_dir) / rundir.DATA_DIR / rundir.WORDS
    if not path.is_file():
        raise RunDirError(
            f"cannot resume {run_dir}: {rundir.DATA_DIR}/{rundir.WORDS}, the word list it trains on, "
            "is missing; restore it, or start again with --overwrite."
        )
    data = prepare_words(read_words(path), cfg.data.split_seed)
    saved = load_tokenizer(Path(run_dir) / rundir.TOKENIZER)
    if saved.to_dict() != data.tokenizer.to_dict():
        raise RunDirError(f"cannot resume {run_dir}: {path} no longer gives the run's vocabulary; restore the file.")
    return data


def prepared_words(cfg: RunConfig, run_dir: str | Path, resume: bool = False) -> PreparedData:
    """The ``PreparedData`` of a word-list run (see the module docstring)."""
    data = word_data(cfg, Path(run_dir), resume)
    m, t = cfg.model, cfg.train
    gpt = m.arch == "gpt"
    arrays = {s: data.arrays(s, m.block_size, sequences=gpt) for s in SPLITS}
    byte_lengths = token_byte_lengths(data.tokenizer)
    rows = EVAL_WORDS if gpt else EVAL_ROWS
    sets = {s: ExampleEvalSet(*arrays[s], rows, byte_lengths) for s in SPLITS}
    if t.doc_mask:  # the GPT's words packed several to a row (validated: GPT only)
        train = PackedWordBatches(*arrays["train"], t.seed, m.block_size)
    else:
        train = ExampleBatches(*arrays["train"], t.seed, whole=m.arch == "bigram")

    def sample(model, seed: int) -> list[str]:
        names = sample_names(
            model, data.tokenizer, END_SAMPLES, seed, t.sample_temperature or 1.0, block_size=m.block_size
        )
        return ["\n".join(names)]

    skipped = data.words.skipped
    notes = [f"skipped {count(skipped, 'empty line')} of {data.words.source}."] if skipped else []
    return PreparedData(
        data.tokenizer,
        train,
        sets["dev"],
        split="dev",
        reports=sets,
        data_files={rundir.WORDS: words_text(data.words)},
        sample=sample,
        description=describe(data, arrays, gpt),
        notes=notes,
    )
