"""Tokenizers: text <-> integer ids.  All share the interface of ``base.Tokenizer``."""

from .base import Tokenizer
from .bpe import BPETokenizer
from .byte import ByteTokenizer
from .char import CharTokenizer
from .loading import REGISTRY, from_dict, load
from .word import WordTokenizer

__all__ = ["Tokenizer", "BPETokenizer", "CharTokenizer", "ByteTokenizer", "WordTokenizer", "REGISTRY", "load", "from_dict"]
