"""Encoding large texts in several processes (or tiktoken threads) with the same ids.

A long text may only be cut where the pre-split pattern would start a new chunk
anyway, otherwise the pieces split differently than the whole.  For the built-in
``gpt2`` and ``gpt4`` patterns such a place is right after a newline that follows a
non-space character and precedes a letter (``"x\\nb"``): both patterns end a chunk at
that newline and start one at the letter, and none of their lookaheads
(``(?!\\S)``, ``$``) can tell the cut from the letter.  Custom patterns and ``none``
are never cut: they are encoded in one piece.

This module knows nothing of the tokenizer class: ``encode_many`` is handed a tokenizer,
and each worker process rebuilds it through the same class's ``_from_state``.  So imports
go one way, ``bpe`` -> ``bpe_parallel``.
"""

from __future__ import annotations

import concurrent.futures  # ProcessPoolExecutor loads multiprocessing on first use
import os
from array import array
from collections.abc import Callable, Iterable

import regex

#: a place where a text may be cut (see the module docstring)
SAFE_CUT = regex.compile(r"(?<=\S\n)(?=\p{L})")

#: below this many characters in all, encoding stays in this process unless asked
SMALL_INPUT = 1 << 18

#: the tokenizer a worker process rebuilt from its initializer
_worker = None


def cut_points(text: str, pattern_name: str, specials: Iterable[str], piece_chars: int) -> list[int]:
    """Offsets (excluding 0 and len(text)) where ``text`` can be cut into pieces of
    roughly ``piece_chars`` characters that encode exactly like the whole."""
    if pattern_name not in ("gpt2", "gpt4") or any("\n" in s for s in specials) or len(text) <= piece_chars:
        return []
    cuts = []
    target = piece_chars
    while target < len(text):
        match = SAFE_CUT.search(text, target)
        if match is None:
            break
        cuts.append(match.start())
        target = match.start() + piece_chars
    return cuts


def split_text(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def default_processes() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _init_worker(rebuild: Callable[[dict], object], state: dict) -> None:
    global _worker
    _worker = rebuild(state)


def _encode_in_worker(job: tuple[str, object]) -> bytes:
    text, allowed = job
    return array("I", _worker.encode(text, allowed_special=allowed, disallowed_special=())).tobytes()


def encode_many(tokenizer, texts: list[str], allowed_special, processes: int | None) -> list[list[int]]:
    """Encode each text (specials in ``allowed_special`` as specials, others as text) in
    a pool of ``processes`` worker processes; one process means no pool at all.  The
    default is one per CPU (at most 8) for large inputs and no pool for small ones.

    Workers rebuild the tokenizer with ``type(tokenizer)._from_state(tokenizer._state())``:
    a small state instead of the whole object with its caches."""
    if processes is None:  # a pool costs more than it saves on small inputs
        processes = default_processes() if sum(map(len, texts)) >= SMALL_INPUT else 1
    if processes <= 1 or len(texts) <= 1:
        return [tokenizer.encode(t, allowed_special=allowed_special, disallowed_special=()) for t in texts]
    jobs = [(t, allowed_special) for t in texts]
    rebuild = (type(tokenizer)._from_state, tokenizer._state())
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(processes, len(texts)), initializer=_init_worker, initargs=rebuild
    ) as pool:
        return [array("I", raw).tolist() for raw in pool.map(_encode_in_worker, jobs)]
