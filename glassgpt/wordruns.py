"""Runs trained on a word list (``data.kind = "words"``, the makemore ladder): their words, the
names they make up, and their loss on every split.

A word-list run keeps its list in ``data/words.txt`` (the words in the file's order, empty
lines left out), so it can be resumed, evaluated and sampled without the original file:
``run_words`` rebuilds the very same vocabulary and train/dev/test split from it and
``data.split_seed``.

- ``sample_names`` draws names one character at a time from an all-``.`` start (or a given
  beginning) until the model writes ``.``.  A ladder model reads its last ``block_size``
  characters (``models.makemore.generate``, eval mode, so BatchNorm uses its running
  statistics and a batch of one works); the GPT reads the whole word so far.  A seed gives
  the same names every time.
- ``evaluate_words`` is the mean loss per predicted character over every example of a split
  (the same targets for every model: one per character plus one final ``.`` per word; the
  GPT reads each word whole, its windows the same examples seen from the word's start).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from glassgpt import rundir
from glassgpt.data.words import (
    END,
    SPLITS,
    WordData,
    WordList,
    build_examples,
    build_sequences,
    encode_word,
    prepare_words,
    read_words,
)
from glassgpt.errors import ConfigError, DataError, RunDirError
from glassgpt.evaluation import evaluate_examples, model_nll_sum, token_byte_lengths
from glassgpt.models.makemore import CharModel, generate
from glassgpt.runs import LoadedRun, load_config, load_run
from glassgpt.sample import check_sampling
from glassgpt.sample import generate as generate_tokens
from glassgpt.threads import thread_scope

#: examples per evaluation batch (windows), and words per batch for the GPT's rows
EVAL_ROWS, EVAL_WORDS = 4096, 256
#: the longest name sampling writes before it stops a word that never ends
MAX_NAME = 50


def is_words_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a run trained on a word list."""
    return load_config(rundir.require_run(run_dir)).data.kind == "words"


def words_text(words: WordList) -> str:
    """The ``data/words.txt`` of a run: one word per line."""
    return "".join(w + "\n" for w in words.words)


def run_words(loaded: LoadedRun) -> WordData:
    """The run's words, vocabulary and split, rebuilt from ``data/words.txt``; one sentence when
    the file is missing or no longer gives the run's vocabulary."""
    path = loaded.run_dir / rundir.DATA_DIR / rundir.WORDS
    if not path.is_file():
        raise RunDirError(
            f"{loaded.run_dir} has no {rundir.DATA_DIR}/{rundir.WORDS}, the word list it was trained "
            "on; it is not a word-list run, or the file was deleted."
        )
    data = prepare_words(read_words(path), loaded.config.data.split_seed)
    if data.tokenizer.to_dict() != loaded.tokenizer.to_dict():
        raise RunDirError(
            f"{path} does not give the vocabulary of {rundir.TOKENIZER}; the file was changed after training."
        )
    return data


def _gpt_names(model, n: int, seed: int, temperature: float, prefix: list[int], block: int) -> list[list[int]]:
    # a word of L characters is read as "." + word (L + 1 ids) to predict its final ".": L < block
    rows = generate_tokens(
        model,
        [0] + prefix,
        min(MAX_NAME + 1, block - len(prefix)),
        temperature=temperature,
        top_k=None,
        top_p=None,
        num_samples=n,
        seed=seed,
        stop_ids=(0,),
        max_context=block,
    )
    return [prefix + (row[:-1] if row and row[-1] == 0 else row) for row in rows]


def sample_names(
    model, tokenizer, n: int, seed: int, temperature: float = 1.0, prefix: str = "", block_size: int | None = None
) -> list[str]:
    """``n`` names (without their final ``.``), seeded; each starts with ``prefix``."""
    check_sampling(1, temperature, num_samples=n, seed=seed)
    if not temperature > 0:
        raise ConfigError("names are sampled from the model's distribution; give a temperature above 0.")
    if END in prefix:
        raise DataError(f"the start of a name cannot contain {END!r}, which ends it.")
    start = encode_word(tokenizer, prefix) if prefix else []
    if isinstance(model, CharModel):
        ids = generate(model, n, torch.Generator().manual_seed(seed), MAX_NAME, temperature, prefix=start)
    else:
        block = block_size or model.config.block_size
        if len(start) + 1 > block:
            raise DataError(f"the start {prefix!r} leaves no room in the model's context of {block} characters.")
        ids = _gpt_names(model, n, seed, temperature, start, block)
    return [tokenizer.decode(w) for w in ids]


def sample_run(
    run_dir: str | Path,
    n: int = 20,
    seed: int | None = None,
    temperature: float = 1.0,
    prefix: str = "",
    mark_known: bool = False,
    device: str = "cpu",
    threads: int = 0,
) -> list[tuple[str, bool | None]]:
    """``(name, in the training split?)`` for ``n`` names of a word-list run (the flag is None
    unless ``mark_known``); ``seed`` None means the run's own seed, so the same names every time."""
    with thread_scope(threads):
        loaded = load_run(run_dir, device)
        if loaded.config.data.kind != "words":
            raise ConfigError(
                f"{loaded.run_dir} was trained on text, not a word list; use `glassgpt sample` without --mark-known."
            )
        seed = loaded.config.train.seed if seed is None else seed
        names = sample_names(loaded.model, loaded.tokenizer, n, seed, temperature, prefix, loaded.trained_context)
        known = set(run_words(loaded).splits["train"]) if mark_known else None
    return [(name, None if known is None else name in known) for name in names]


def eval_arrays(data: WordData, split_words: list[str], model, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The examples a model is evaluated on: windows for a ladder model, whole words for the GPT."""
    if isinstance(model, CharModel):
        return build_examples(split_words, data.tokenizer, block_size)
    X, Y = build_sequences(split_words, data.tokenizer)
    if X.shape[1] > block_size:
        raise DataError(
            f"a word of {X.shape[1] - 1} characters is longer than the model's context of "
            f"{block_size} can read to its end."
        )
    return X, Y


def evaluate_words(
    run_dir: str | Path,
    splits: tuple[str, ...] = ("dev",),
    data: str | None = None,
    device: str = "cpu",
    threads: int = 0,
    progress: bool = False,
) -> dict:
    """The loss of a word-list run on each of ``splits`` (train, dev, test), or on the word list
    in the file ``data`` (its characters must be in the run's vocabulary): ``{name: {"loss",
    "perplexity", "bits_per_byte", "tokens", "bytes"}}``."""
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ConfigError(f"unknown split {unknown[0]!r}; the splits are {', '.join(SPLITS)}.")
    with thread_scope(threads):
        loaded = load_run(run_dir, device)
        if loaded.config.data.kind != "words":
            raise ConfigError(f"{loaded.run_dir} was trained on text, not a word list; --splits is for word-list runs.")
        words = run_words(loaded)
        sets = {str(data): read_words(data, min_words=1).words} if data else {s: words.splits[s] for s in splits}
        block = loaded.config.model.block_size
        rows = EVAL_ROWS if isinstance(loaded.model, CharModel) else EVAL_WORDS
        nll_sum, byte_lengths = model_nll_sum(loaded.model), token_byte_lengths(loaded.tokenizer)
        out = {}
        for name, split_words in sets.items():
            X, Y = eval_arrays(words, split_words, loaded.model, block)
            out[name] = evaluate_examples(
                nll_sum, X, Y, rows, byte_lengths, progress=progress, label=f"evaluating {name}"
            )
    return out
