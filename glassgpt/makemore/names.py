"""Names from a model of a word list: drawn one character at a time until the model writes ``.``.

A ladder model reads its last ``block_size`` characters from an all-``.`` start
(``makemore.models.generate``: the lectures' loop, eval mode, so BatchNorm uses its running
statistics and a batch of one works); the GPT reads the whole word so far, from ``.``.  A
seed gives the same names every time.
"""

from __future__ import annotations

from pathlib import Path

import torch

from glassgpt.errors import ConfigError, DataError
from glassgpt.generation.constraints import ConstrainedRow, Constraint, automaton_for, require_room
from glassgpt.generation.sampling import check_sampling
from glassgpt.generation.sampling import generate as generate_tokens
from glassgpt.makemore.models import CharModel, generate
from glassgpt.makemore.models.sequence import START, Windowed
from glassgpt.makemore.words import END, encode_word
from glassgpt.models.from_run import load_run
from glassgpt.threads import thread_scope

#: the longest name sampling writes before it stops a word that never ends
MAX_NAME = 50


def _gpt_names(
    model, n: int, seed: int, temperature: float, prefix: list[int], block: int, steer=None
) -> list[list[int]]:
    # a word of L characters is read as "." + word (L + 1 ids) to predict its final ".": L < block
    rows = generate_tokens(
        model,
        [0, *prefix],
        _budget(model, prefix, block),
        temperature=temperature,
        top_k=None,
        top_p=None,
        num_samples=n,
        seed=seed,
        stop_ids=(0,),
        max_context=block,
        steer=steer,
    )
    return [prefix + (row[:-1] if row and row[-1] == 0 else row) for row in rows]


def _budget(model, prefix: list[int], block: int) -> int:
    """The most characters a name may get: a GPT reads the whole name within its context, a
    ladder model (read along the sequence) only its window."""
    return MAX_NAME + 1 if isinstance(model, Windowed) else min(MAX_NAME + 1, block - len(prefix))


def sample_names(
    model,
    tokenizer,
    n: int,
    seed: int,
    temperature: float = 1.0,
    prefix: str = "",
    block_size: int | None = None,
    constraint: Constraint | None = None,
) -> list[str]:
    """``n`` names (without their final ``.``), seeded; each starts with ``prefix``.  With a
    ``constraint`` the rest of every name matches it (``generation.constraints``; the ``.``
    that ends a name is never part of the match) and a ladder model is read along the
    sequence (``LoadedRun.language_model``)."""
    check_sampling(1, temperature, num_samples=n, seed=seed)
    if not temperature > 0:
        raise ConfigError("names are sampled from the model's distribution; give a temperature above 0.")
    if END in prefix:
        raise DataError(f"the start of a name cannot contain {END!r}, which ends it.")
    start = encode_word(tokenizer, prefix) if prefix else []
    if constraint is not None:
        if isinstance(model, CharModel):
            raise ConfigError(
                "a constrained name is drawn by the model read along the sequence; pass run.language_model."
            )
        automaton = automaton_for(constraint, tokenizer, excluded=(START,))
        block = block_size or model.config.block_size
        require_room(automaton, _budget(model, start, block))
        names = _gpt_names(model, n, seed, temperature, start, block, lambda row: ConstrainedRow(automaton))
        return [tokenizer.decode(w) for w in names]
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
    known: set[str] | None = None,
    device: str = "cpu",
    threads: int = 0,
    constraint: Constraint | None = None,
) -> list[tuple[str, bool | None]]:
    """``(name, in known?)`` for ``n`` names of a word-list run (the flag is None unless
    ``known``, e.g. the training split's words, is given); ``seed`` None means the run's own
    seed, so the same names every time."""
    with thread_scope(threads):
        loaded = load_run(run_dir, device)
        seed = loaded.config.train.seed if seed is None else seed
        model = loaded.language_model if constraint is not None else loaded.model
        names = sample_names(model, loaded.tokenizer, n, seed, temperature, prefix, loaded.trained_context, constraint)
    return [(name, None if known is None else name in known) for name in names]
