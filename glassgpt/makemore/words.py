"""Word lists for the makemore ladder: one item per line, predicted one character at a time.

The models of the ladder (bigram, MLP, WaveNet, and the GPT on the same data) learn to
spell *words*: names, cities, anything with one item per line.  This module turns such a
list into training examples:

* **Reading.**  ``read_words(path)`` reads the file with ``read_text`` (so a missing, empty,
  binary or non-UTF-8 file gets the same one-sentence error as everywhere else) and
  ``parse_words(text)`` keeps one word per line, stripped of surrounding whitespace.
  Empty lines are skipped and counted (``WordList.skipped``).  Fewer than 3 words is an
  error: train, dev and test need one each.
* **Vocabulary.**  ``.`` is the one start/end token, id 0; the other ids are the sorted
  characters of the list (27 for lowercase names).  It is a ``CharTokenizer``, so its
  ``encode`` refuses a character outside the vocabulary with a sentence that names it.  A
  word may not contain ``.`` itself: it would be indistinguishable from the end of a word.
* **Split.**  ``split_words`` shuffles the words with ``random.Random(seed)`` (seed 42 by
  default) and cuts 80% / 10% / 10% into train / dev / test — the reference procedure,
  which gives the very same split as the lectures on the same file.  Splitting words, not
  examples, keeps every example of one word in one split.
* **Examples.**  ``build_examples`` makes one example per character of every word plus one
  for the final ``.``: the ``block_size`` previous characters (``.``-padded at the start)
  and the character that follows.  ``emma`` with block size 3 gives
  ``... -> e, ..e -> m, .em -> m, emm -> a, mma -> .``.  A word longer than the context is
  covered by sliding the window along it, so nothing is cut.  ``build_sequences`` is the
  same data for a transformer: one row per word (``.`` + word as input, word + ``.`` as
  target, padded with the ignored target -1), so every position trains at once.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import numpy as np

from glassgpt.data.corpora import load_corpus
from glassgpt.data.text import read_text
from glassgpt.errors import DataError, TokenizerError
from glassgpt.tokenizers.char import CharTokenizer

__all__ = [
    "END",
    "SPLITS",
    "WordList",
    "parse_words",
    "read_words",
    "read_word_source",
    "word_vocabulary",
    "split_words",
    "encode_word",
    "build_examples",
    "build_sequences",
    "WordData",
    "prepare_words",
]

#: the start/end token: id 0, the padding of every context
END = "."
#: the three splits, in order, with the fraction of the words each receives
SPLITS = {"train": 0.8, "dev": 0.1, "test": 0.1}
MIN_WORDS = len(SPLITS)


@dataclass
class WordList:
    """The words of a list in file order, and how many empty lines were left out."""

    words: list[str]
    skipped: int = 0
    source: str = "the text"

    def summary(self) -> str:
        """One line for the user, e.g. ``32,033 words from names.txt (2 empty lines skipped)``."""
        skipped = f" ({self.skipped:,} empty line{'s' if self.skipped != 1 else ''} skipped)" if self.skipped else ""
        return f"{len(self.words):,} words from {self.source}{skipped}"


def parse_words(text: str, source: str = "the text", min_words: int = MIN_WORDS) -> WordList:
    """One word per line of ``text``, whitespace around each stripped, empty lines skipped.

    DataError when a word contains ``.`` (the end token) or fewer than ``min_words`` remain
    (3 for training: train, dev and test need one each)."""
    words: list[str] = []
    skipped = 0
    for number, line in enumerate(text.splitlines(), start=1):
        word = line.strip()
        if not word:
            skipped += 1
            continue
        if END in word:
            raise DataError(
                f"line {number} of {source} ({word[:40]!r}) contains {END!r}, which marks the start and end of "
                f"every word; remove it or replace it with another character."
            )
        words.append(word)
    if len(words) < min_words:
        found = f"only {len(words)} word{'s' if len(words) != 1 else ''}" if words else "no words"
        why = " so that train, dev and test get one each" if min_words == MIN_WORDS else ""
        raise DataError(
            f"{source} has {found} (one per line, {skipped} empty line{'s' if skipped != 1 else ''} skipped); "
            f"give at least {min_words}{why}."
        )
    return WordList(words, skipped, source)


def read_words(path: str | os.PathLike, min_words: int = MIN_WORDS) -> WordList:
    """The words of a UTF-8 file with one item per line (see ``parse_words``)."""
    return parse_words(read_text(path), source=str(path), min_words=min_words)


def read_word_source(data_cfg) -> WordList:
    """The word list a run's ``[data]`` section names: the file ``path``, else the built-in corpus."""
    if data_cfg.path:
        return read_words(data_cfg.path)
    return parse_words(load_corpus(data_cfg.corpus), source=f"the {data_cfg.corpus} corpus")


def word_vocabulary(words: list[str]) -> CharTokenizer:
    """``.`` (id 0) followed by the sorted characters of ``words``."""
    return CharTokenizer([END] + sorted(set("".join(words)) - {END}))


def split_words(words: list[str], seed: int = 42) -> dict[str, list[str]]:
    """Shuffle a copy of ``words`` with ``random.Random(seed)`` and cut it 80/10/10.

    The cuts are ``int(0.8 n)`` and ``int(0.9 n)`` as in the reference; for very short lists
    they move so that every split keeps at least one word (3 words give 1/1/1)."""
    if len(words) < MIN_WORDS:
        raise DataError(f"cannot split {len(words)} words into train, dev and test; give at least {MIN_WORDS}.")
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)
    n = len(shuffled)
    n1 = min(int(SPLITS["train"] * n), n - 2)
    n2 = max(n1 + 1, min(int((SPLITS["train"] + SPLITS["dev"]) * n), n - 1))
    return {"train": shuffled[:n1], "dev": shuffled[n1:n2], "test": shuffled[n2:]}


def encode_word(tokenizer: CharTokenizer, word: str) -> list[int]:
    """The ids of ``word``; a character outside the vocabulary is a TokenizerError naming the word too."""
    try:
        return tokenizer.encode(word)
    except TokenizerError as e:
        raise TokenizerError(f"in the word {word[:40]!r}: {e}") from None


def build_examples(words: list[str], tokenizer: CharTokenizer, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (context -> next character) example of ``words``: X (N, block_size) and Y (N,), int64.

    N = total characters + one final ``.`` per word.  Context positions before the start of
    the word are ``.`` (id 0)."""
    if block_size < 1:
        raise DataError(f"the context must hold at least 1 character, got {block_size}.")
    end = tokenizer.encode(END)[0]
    xs, ys = [], []
    for word in words:
        ids = np.asarray(encode_word(tokenizer, word), dtype=np.int64)
        padded = np.concatenate([np.full(block_size, end, dtype=np.int64), ids])
        # row i of the windows is the context of target i (the word's characters, then ".")
        xs.append(np.lib.stride_tricks.sliding_window_view(padded, block_size))
        ys.append(np.append(ids, end))
    if not xs:
        return np.zeros((0, block_size), dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def build_sequences(
    words: list[str], tokenizer: CharTokenizer, block_size: int | None = None, ignore_index: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """One row per word for a transformer: X (N, T) = ``.`` + word, Y (N, T) = word + ``.``.

    T = ``block_size`` or the longest word + 1; shorter rows are padded (X with ``.``, Y with
    ``ignore_index``, which the loss skips).  Every character and every final ``.`` is then a
    target exactly once, as in ``build_examples``."""
    encoded = [encode_word(tokenizer, w) for w in words]
    longest = max((len(ids) for ids in encoded), default=0) + 1
    T = longest if block_size is None else block_size
    if T < longest:
        raise DataError(
            f"the longest word needs a context of {longest} characters, but the block size is {T}; "
            f"raise the block size to at least {longest}."
        )
    end = tokenizer.encode(END)[0]
    X = np.full((len(encoded), T), end, dtype=np.int64)
    Y = np.full((len(encoded), T), ignore_index, dtype=np.int64)
    for row, ids in enumerate(encoded):
        X[row, 1 : len(ids) + 1] = ids
        Y[row, : len(ids)] = ids
        Y[row, len(ids)] = end
    return X, Y


@dataclass
class WordData:
    """A word list, its vocabulary and its seeded split, ready to make examples."""

    words: WordList
    tokenizer: CharTokenizer
    seed: int
    splits: dict[str, list[str]] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def examples(self, split: str, block_size: int) -> tuple[np.ndarray, np.ndarray]:
        """``build_examples`` of one split ("train", "dev" or "test")."""
        return build_examples(self._split(split), self.tokenizer, block_size)

    def sequences(self, split: str, block_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``build_sequences`` of one split."""
        return build_sequences(self._split(split), self.tokenizer, block_size)

    def arrays(self, split: str, block_size: int, sequences: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """What a model trains and is evaluated on: the ``examples`` (windows of ``block_size``)
        or, for a transformer (``sequences=True``), the ``sequences``, as long as the longest
        word of the whole list needs (one sentence when that exceeds ``block_size``) — the very
        same targets either way, one per character plus one final ``.`` per word."""
        if not sequences:
            return self.examples(split, block_size)
        longest = self.max_word_length() + 1
        if longest > block_size:
            raise DataError(
                f"the longest word of {self.words.source} needs a context of {longest} characters, but "
                f"model.block_size is {block_size}; set model.block_size to at least {longest}."
            )
        return self.sequences(split, longest)

    def max_word_length(self) -> int:
        return max(len(w) for w in self.words.words)

    def _split(self, split: str) -> list[str]:
        if split not in self.splits:
            raise DataError(f"unknown split {split!r}; the splits are {', '.join(SPLITS)}.")
        return self.splits[split]


def prepare_words(words: WordList, seed: int = 42) -> WordData:
    """Vocabulary of the whole list (so dev/test characters are never unknown) and the seeded split."""
    return WordData(words, word_vocabulary(words.words), seed, split_words(words.words, seed))
