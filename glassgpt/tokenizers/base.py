"""The interface every tokenizer implements (char, byte, word, bpe).

A tokenizer turns text into a list of integer ids and back.  It is saved as a JSON
object whose ``"type"`` field names the class, so ``glassgpt.tokenizers.load`` can
rebuild any of them from a run directory's ``tokenizer.json`` (see ``loading``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable

from ..errors import TokenizerError
from ..fileio import write_json


class Tokenizer(ABC):
    #: short name stored in JSON (``"char"``, ``"byte"``, ``"word"``, ``"bpe"``)
    type: str = ""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids, special tokens included: every id is in ``range(vocab_size)``."""

    @property
    def special_tokens(self) -> dict[str, int]:
        """Special token text -> id (empty for tokenizers without specials)."""
        return {}

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Text -> ids.  Unknown symbols raise TokenizerError naming them."""

    def encode_corpus(self, text: str):
        """Encode a whole training corpus.  Same ids as ``encode``; subclasses may use a
        faster path (BPE uses tiktoken when installed).  Returns a list or a 1-D array."""
        return self.encode(text)

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text.  Ids outside the vocabulary raise TokenizerError."""

    @abstractmethod
    def token_bytes(self, idx: int) -> bytes:
        """The UTF-8 bytes one id stands for in the text (used for bits per byte)."""

    def token_str(self, idx: int) -> str:
        """A printable rendering of one id, control characters escaped (for tables)."""
        text = self.token_bytes(idx).decode("utf-8", errors="replace")
        return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text

    @abstractmethod
    def to_dict(self) -> dict:
        """A JSON-able description; ``from_dict(to_dict())`` rebuilds an equal tokenizer."""

    @classmethod
    @abstractmethod
    def from_dict(cls, data: dict) -> "Tokenizer":
        ...

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    def check_ids(self, ids: Iterable[int]) -> list[int]:
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise TokenizerError(
                f"id {bad[0]} is outside this tokenizer's vocabulary (valid ids are 0..{self.vocab_size - 1})."
            )
        return ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(vocab_size={self.vocab_size})"
