"""Honest evaluation of a run: mean loss over every target of a split, perplexity, bits per byte.

``evaluate_run`` opens the run's own data again (``data.open.reopen_source``), so it measures
exactly what the run's final evaluation measured, for every kind of data: the validation
split of a text or a prepared corpus, a word list's dev split (and ``splits`` for the
others), a fine-tune's held-out conversations.  ``data=PATH`` evaluates other text (or, for
a word-list run, another word list) with the run's tokenizer.

Bits per byte divide the total loss (in bits) by the UTF-8 bytes of the predicted tokens,
so a char model and a BPE model evaluated on the same text compare fairly although they
predict different numbers of tokens.

A result names its loss after what was evaluated (``rundir.loss_names``): ``val_loss`` for
held-out data (or other text given with ``data``), ``train_loss`` for a run without held-out
data, and always ``loss``.
"""

from __future__ import annotations

import numpy as np

from glassgpt.data import read_text
from glassgpt.data.loader import all_windows
from glassgpt.data.open import reopen_source
from glassgpt.data.source import EvalSet, measure, token_byte_lengths
from glassgpt.device import device_of
from glassgpt.errors import ConfigError, DataError
from glassgpt.makemore.word_source import EVAL_ROWS, EVAL_WORDS, example_set
from glassgpt.makemore.words import SPLITS, build_examples, build_sequences, read_words
from glassgpt.models.footprint import inference_bytes, require_fits
from glassgpt.models.from_run import LoadedRun, load_run
from glassgpt.models.nll import model_nll_sum
from glassgpt.rundir import kinds
from glassgpt.rundir.loss_names import named
from glassgpt.threads import thread_scope


def text_set(run: LoadedRun, path: str, batch_size: int) -> EvalSet:
    """Every token of the text in ``path`` (the run's tokenizer), in consecutive windows."""
    tokens = np.asarray(run.tokenizer.encode(read_text(path)), dtype=np.int64)
    if len(tokens) < 2:
        raise DataError(f"{path} has fewer than two tokens; there is nothing to predict.")
    seq_len = run.config.seq_len
    n = len(tokens) - 1
    count = -(-(n // seq_len) // batch_size) + (1 if n % seq_len else 0)
    return EvalSet(
        str(path), lambda: all_windows(tokens, seq_len, batch_size), count, n, token_byte_lengths(run.tokenizer)
    )


def words_set(run: LoadedRun, path: str) -> EvalSet:
    """Every word of the word list in ``path``, as the run's model reads words."""
    words = read_words(path, min_words=1).words
    block = run.config.model.block_size
    if run.config.model.arch == "gpt":
        X, Y = build_sequences(words, run.tokenizer)
        if X.shape[1] > block:
            raise DataError(
                f"a word of {X.shape[1] - 1} characters is longer than the model's context of {block} can read to its end."
            )
        rows = EVAL_WORDS
    else:
        X, Y = build_examples(words, run.tokenizer, block)
        rows = EVAL_ROWS
    return example_set(str(path), X, Y, rows, token_byte_lengths(run.tokenizer))


def evaluate_run(
    run_dir,
    data: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    threads: int = 0,
    progress: bool = False,
    splits: tuple[str, ...] = (),
) -> dict:
    """Evaluate a run on the data it was evaluated on when it finished (see the module
    docstring), or on the text (word list) at ``data``; ``splits``: a word-list run's splits
    (train, dev, test), each under ``"splits"``.  ``batch_size``: windows per batch for text."""
    if batch_size < 1:
        raise DataError(f"the evaluation batch size must be at least 1, got {batch_size}.")
    kind = kinds.require(run_dir, "eval --splits" if splits else "eval")
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ConfigError(f"unknown split {unknown[0]!r}; the splits are {', '.join(SPLITS)}.")
    with thread_scope(threads):
        run = load_run(run_dir, device)
        cfg = run.config
        if splits and cfg.data.kind != "words":
            raise ConfigError(f"{run.run_dir} was trained on text, not a word list; --splits is for word-list runs.")
        words = cfg.data.kind == "words"
        if data:
            sets = [words_set(run, data) if words else text_set(run, data, batch_size)]
        elif kind == "imported":
            raise DataError(
                f"{run.run_dir} was imported and has no token data of its own; evaluate it on a text with --data PATH."
            )
        else:
            eval_cfg = cfg if words else cfg.updated({"train.batch_size": batch_size})
            source = reopen_source(eval_cfg, run.run_dir, run.tokenizer)
            sets = source.final_sets()
            sets = [s for s in sets[1:] if s.name in splits] if splits else sets[:1]
        if not words:
            need = inference_bytes(cfg.model, batch_size, cfg.seq_len)
            require_fits(
                need,
                device_of(run.model),
                f"evaluating batches of {batch_size:,} windows",
                "use a smaller --batch-size",
            )
        sums = model_nll_sum(run.model)
        results = [measure(sums, s, progress=progress, label=f"evaluating {s.name}") for s in sets]
    if splits:
        return {s.name: r for s, r in zip(sets, results)}
    return named(sets[0].name, results[0], held_out=bool(data))
