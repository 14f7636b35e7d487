"""Tokenizers: text <-> integer ids.  All share the interface of ``base.Tokenizer``.

``load(spec)`` is the one way to get a ready tokenizer: a tokenizer JSON file, a run
directory, a ``.tiktoken`` rank file or ``cl100k_base`` (see ``loading``).
"""

from glassgpt.tokenizers.added import END_OF_TEXT, SpecialsTokenizer, add_special_tokens, encode_ordinary
from glassgpt.tokenizers.base import Tokenizer
from glassgpt.tokenizers.bpe import BPETokenizer
from glassgpt.tokenizers.byte import ByteTokenizer
from glassgpt.tokenizers.char import CharTokenizer
from glassgpt.tokenizers.loading import REGISTRY, from_dict, load
from glassgpt.tokenizers.word import WordTokenizer

__all__ = [
    "END_OF_TEXT",
    "SpecialsTokenizer",
    "add_special_tokens",
    "encode_ordinary",
    "Tokenizer",
    "BPETokenizer",
    "CharTokenizer",
    "ByteTokenizer",
    "WordTokenizer",
    "REGISTRY",
    "load",
    "from_dict",
]
