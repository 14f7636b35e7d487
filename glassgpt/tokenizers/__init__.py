"""Tokenizers: text <-> integer ids.  All share the interface of ``base.Tokenizer``.

``load(spec)`` is the one way to get a ready tokenizer: a tokenizer JSON file, a run
directory, a ``.tiktoken`` rank file or ``cl100k_base`` (see ``loading``).
"""

from .added import END_OF_TEXT, SpecialsTokenizer, add_special_tokens, encode_ordinary
from .base import Tokenizer
from .bpe import BPETokenizer
from .byte import ByteTokenizer
from .char import CharTokenizer
from .loading import REGISTRY, from_dict, load
from .word import WordTokenizer

__all__ = ["END_OF_TEXT", "SpecialsTokenizer", "add_special_tokens", "encode_ordinary", "Tokenizer", "BPETokenizer", "CharTokenizer", "ByteTokenizer", "WordTokenizer", "REGISTRY", "load", "from_dict"]
