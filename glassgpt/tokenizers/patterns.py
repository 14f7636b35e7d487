"""Regex pre-split patterns: how text is cut into chunks before byte-level BPE.

BPE never merges across a chunk boundary, so the pattern decides what a token can
span: with ``gpt2`` or ``gpt4`` a token never glues a word to the punctuation or the
spaces around it (except the single leading space GPT tokenizers fold into words).

* ``gpt2``  -- the pattern of the GPT-2 release: contractions, `` ?letters``,
  `` ?digits``, `` ?other symbols``, whitespace.
* ``gpt4``  -- the pattern of OpenAI's ``cl100k_base`` (GPT-4): case-insensitive
  contractions, letters with one leading non-letter, digits in groups of at most
  three, newlines kept with the whitespace before them.  Identical to the one
  tiktoken uses, so ``BPETokenizer.from_tiktoken("cl100k_base")`` splits exactly
  like tiktoken.
* ``none``  -- no pre-split: the whole text is one chunk (plain byte BPE).
* anything else is taken as a regular expression in the syntax of the ``regex``
  package (``\\p{L}``, possessive quantifiers ``++`` and atomic groups allowed).
  Text it does not match becomes one-character chunks, so nothing is ever dropped;
  a pattern that matches empty text is refused.
"""

from __future__ import annotations

import regex

from glassgpt.errors import TokenizerError

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

GPT4 = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

BUILTIN: dict[str, str | None] = {"gpt2": GPT2, "gpt4": GPT4, "none": None}

#: what ``tiktoken`` needs when there is no pre-split: one chunk for the whole text
WHOLE_TEXT = r"""[\s\S]+"""


def resolve(pattern: str | None) -> tuple[str, str | None]:
    """``pattern`` (a built-in name, a regex, or None) -> (name, regex or None).

    The name is the built-in's name or ``"custom"``; the regex is None for ``none``.
    """
    if pattern is None:
        return "none", None
    if not isinstance(pattern, str) or not pattern:
        raise TokenizerError("a pre-split pattern must be gpt2, gpt4, none or a non-empty regular expression.")
    if pattern in BUILTIN:
        return pattern, BUILTIN[pattern]
    for name, text in BUILTIN.items():
        if text == pattern:
            return name, text
    compile_pattern(pattern)
    return "custom", pattern


def effective(name: str, pattern: str | None) -> str | None:
    """The regex actually used to split: a custom pattern gets ``|[\\s\\S]`` appended so
    text it does not match becomes one-character chunks instead of being dropped."""
    if pattern is None or name != "custom":
        return pattern
    return f"(?:{pattern})|[\\s\\S]"


def compile_pattern(pattern: str | None):
    """Compile a pre-split regex; a pattern that does not compile or that matches empty
    text (it would make chunks of nothing) is a TokenizerError."""
    if pattern is None:
        return None
    try:
        compiled = regex.compile(pattern)
    except (regex.error, TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise TokenizerError(f"the pre-split pattern {pattern!r} is not a valid regular expression ({exc}).") from None
    if compiled.match("") is not None:
        raise TokenizerError(
            f"the pre-split pattern {pattern!r} matches empty text; use + rather than * so every chunk has a character."
        )
    return compiled


def hf_regex(pattern: str | None) -> str:
    """The pattern rewritten for the Oniguruma engine inside Hugging Face ``tokenizers``.

    Oniguruma (Ruby syntax) reads ``{1,3}+`` as "one to three, repeated", not as a
    possessive ``{1,3}``; at the end of an alternative greedy and possessive match the
    same text, so the ``+`` is dropped.  ``$`` means end-of-line in Ruby syntax; in a
    pre-split pattern it means end of text, which is ``\\z`` there.
    """
    if pattern is None:
        return WHOLE_TEXT
    out = regex.sub(r"(\{\d+(?:,\d*)?\})\+", r"\1", pattern)
    return regex.sub(r"(?<!\\)\$", r"\\z", out)
