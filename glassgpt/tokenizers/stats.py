"""Looking inside a tokenizer: what ``glassgpt tokenizer show`` prints, as plain data.

``describe(tok, text)`` gives the vocabulary (size, specials, the merges of a BPE), the
longest tokens, the first merges, and ``split_text``: how a sample text falls into tokens
and how many UTF-8 bytes each token carries on average (the tokenizer's compression).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers.base import Tokenizer
from glassgpt.tokenizers.bpe import BPETokenizer

#: the sample split when no text is given: prose, digits, code, indentation, emoji, CJK
SAMPLE_TEXT = (
    "Hello world! Tokenizers turn text into ids: 12345 + 678 = 13023.\n"
    "    def f(x):\n        return x ** 2  # 😀 日本語\n"
)


@dataclass(frozen=True)
class Token:
    id: int
    n_bytes: int
    text: str  # ``token_str``: printable, control characters escaped


@dataclass(frozen=True)
class Merge:
    left: Token
    right: Token
    id: int  # the id of the merged token (256 + its rank among the merges)


@dataclass(frozen=True)
class TextSplit:
    text: str
    ids: list[int]
    pieces: list[str]  # ``token_str`` of each id, in order
    n_bytes: int  # UTF-8 bytes of ``text``

    @property
    def bytes_per_token(self) -> float:
        return self.n_bytes / max(len(self.ids), 1)


@dataclass(frozen=True)
class TokenizerStats:
    name: str  # the class, e.g. "BPETokenizer"
    type: str  # "char", "byte", "word" or "bpe"
    vocab_size: int  # every id, specials included
    n_regular: int  # ids that are not special tokens
    n_merges: int | None  # BPE only: n_regular - 256
    pattern_name: str | None  # BPE only: the pre-split pattern
    specials: list[tuple[str, int]]  # (text, id), by id
    longest: list[Token]  # most bytes first, lower id first on ties
    first_merges: list[Merge]  # BPE only
    merges_problem: str | None  # why ``first_merges`` is empty although there are merges
    sample: TextSplit | None  # None when the tokenizer cannot encode the built-in sample
    sample_problem: str | None  # why ``sample`` is None


def split_text(tok: Tokenizer, text: str) -> TextSplit:
    """The tokens of ``text``; special-token text counts as plain text (nothing is refused)."""
    ids = tok.encode(text, disallowed_special=()) if isinstance(tok, BPETokenizer) else tok.encode(text)
    return TextSplit(text, list(ids), [tok.token_str(i) for i in ids], len(text.encode("utf-8")))


def describe(tok: Tokenizer, text: str | None = None, top: int = 10) -> TokenizerStats:
    """Statistics of ``tok`` and the split of ``text`` (default ``SAMPLE_TEXT``).

    A given text the tokenizer cannot encode raises its TokenizerError; when the built-in
    sample holds symbols a char or word vocabulary lacks, ``sample`` is None and
    ``sample_problem`` says why.
    """
    if top < 0:
        raise TokenizerError(f"the number of tokens and merges to list (top) must be 0 or more, not {top}.")
    specials = sorted(tok.special_tokens.items(), key=lambda kv: kv[1])
    bpe = isinstance(tok, BPETokenizer)
    n_regular = len(tok.mergeable_ranks) if bpe else tok.vocab_size - len(specials)
    special_ids = {i for _, i in specials}
    regular = (i for i in range(tok.vocab_size) if i not in special_ids and _has_token(tok, i))
    longest = [_token(tok, i) for i in heapq.nsmallest(top, regular, key=lambda i: (-len(tok.token_bytes(i)), i))]
    first_merges, merges_problem = [], None
    if bpe and top and n_regular > 256:
        try:  # ranks read from a tiktoken file: their merges are derived here, and a few ranks have none
            pairs = tok.merges[:top]
        except TokenizerError as exc:
            pairs, merges_problem = [], str(exc)
        first_merges = [Merge(_token(tok, a), _token(tok, b), 256 + k) for k, (a, b) in enumerate(pairs)]
    sample, problem = None, None
    if text is not None:
        sample = split_text(tok, text)
    else:
        try:
            sample = split_text(tok, SAMPLE_TEXT)
        except TokenizerError as exc:
            problem = str(exc)
    return TokenizerStats(
        name=type(tok).__name__,
        type=tok.type,
        vocab_size=tok.vocab_size,
        n_regular=n_regular,
        n_merges=n_regular - 256 if bpe else None,
        pattern_name=tok.pattern_name if bpe else None,
        specials=specials,
        longest=longest,
        first_merges=first_merges,
        merges_problem=merges_problem,
        sample=sample,
        sample_problem=problem,
    )


def _token(tok: Tokenizer, idx: int) -> Token:
    return Token(idx, len(tok.token_bytes(idx)), tok.token_str(idx))


def _has_token(tok: Tokenizer, idx: int) -> bool:
    """False for the unassigned ids a BPE may have between its special tokens."""
    try:
        tok.token_bytes(idx)
        return True
    except TokenizerError:
        return False
