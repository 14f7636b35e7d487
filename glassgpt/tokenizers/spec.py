"""Build the tokenizer a run asks for from its spec string.

Specs: ``char`` (vocabulary from the training text), ``byte`` (256 bytes), ``word``
(whitespace-split words, lines end with ``<END>``), ``bpe:FILE`` (a ready tokenizer:
whatever ``glassgpt.tokenizers.load`` accepts, e.g. a trained BPE file, a run directory,
a ``.tiktoken`` rank file or ``cl100k_base``) and ``bpe`` (train a BPE tokenizer of
``vocab_size`` on the text).
"""

from __future__ import annotations

from glassgpt.errors import ConfigError
from glassgpt.tokenizers.base import Tokenizer
from glassgpt.tokenizers.bpe import BPETokenizer
from glassgpt.tokenizers.byte import ByteTokenizer
from glassgpt.tokenizers.char import CharTokenizer
from glassgpt.tokenizers.loading import load
from glassgpt.tokenizers.word import WordTokenizer

SPECS = ("char", "byte", "word", "bpe", "bpe:FILE")


def build_tokenizer(spec: str, text: str, vocab_size: int | None = None) -> Tokenizer:
    """Return the tokenizer for ``spec``, trained on ``text`` where the spec needs training."""
    if spec == "char":
        return CharTokenizer.train(text)
    if spec == "byte":
        return ByteTokenizer()
    if spec == "word":
        return WordTokenizer.train(text)
    if spec == "bpe" or spec.startswith("bpe:"):
        return _build_bpe(spec, text, vocab_size)
    raise ConfigError(f"unknown tokenizer {spec!r}; choose one of {', '.join(SPECS)}.")


def _build_bpe(spec: str, text: str, vocab_size: int | None) -> Tokenizer:
    if spec.startswith("bpe:"):
        return load(spec[4:])
    if not vocab_size:
        raise ConfigError("--tokenizer bpe needs --vocab-size N (at least 256).")
    return BPETokenizer.train(text, vocab_size=vocab_size)
