"""Tokenizers: text <-> integer ids.  All share the interface of ``base.Tokenizer``."""

from .base import Tokenizer, from_dict, load
from .bpe import BPETokenizer
from .byte import ByteTokenizer
from .char import CharTokenizer
from .word import WordTokenizer

REGISTRY: dict[str, type[Tokenizer]] = {
    "char": CharTokenizer,
    "byte": ByteTokenizer,
    "word": WordTokenizer,
    "bpe": BPETokenizer,
}

__all__ = ["Tokenizer", "BPETokenizer", "CharTokenizer", "ByteTokenizer", "WordTokenizer", "REGISTRY", "load", "from_dict"]
