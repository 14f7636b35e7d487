"""The interface every tokenizer implements (char, byte, word, bpe), and reading one back.

A tokenizer turns text into a list of integer ids and back.  It is saved as a JSON
object whose ``"type"`` field names the class.  ``read_tokenizer_file`` and ``rebuild``
are the two steps of reading such a file, each failing with one sentence;
``glassgpt.tokenizers.load`` (see ``loading``) uses them for every kind of tokenizer,
``CharTokenizer.load(path)`` and friends for a file that must hold their own type.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from glassgpt.errors import TokenizerError
from glassgpt.fileio import write_json
from glassgpt.tokenizers.table import token_table

T = TypeVar("T", bound="Tokenizer")


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

    def is_assigned(self, idx: int) -> bool:
        """Whether ``idx`` stands for a token: every id in ``range(vocab_size)``, except the
        gaps some imported BPE vocabularies leave (cl100k has ids no token uses)."""
        return 0 <= idx < self.vocab_size

    def token_str(self, idx: int) -> str:
        """A printable rendering of one id, control characters escaped (for tables)."""
        text = self.token_bytes(idx).decode("utf-8", errors="replace")
        return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text

    @abstractmethod
    def to_dict(self) -> dict:
        """A JSON-able description; ``from_dict(to_dict())`` rebuilds an equal tokenizer."""

    @classmethod
    @abstractmethod
    def from_dict(cls, data: dict) -> Tokenizer: ...

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls: type[T], path: str | Path) -> T:
        """Read a file written by ``save`` of this class (``glassgpt.tokenizers.load`` reads any kind)."""
        if not cls.type:
            raise TypeError("call load on a tokenizer class such as BPETokenizer, or use glassgpt.tokenizers.load.")
        data = read_tokenizer_file(path)
        source = f"tokenizer file {path}"
        if data.get("type") != cls.type:
            raise TokenizerError(
                f"{source} holds a {data.get('type')!r} tokenizer, not a {cls.type!r} one; "
                "load it with glassgpt.tokenizers.load."
            )
        return rebuild(cls, data, source)

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

    def _repr_html_(self) -> str:
        """What a notebook shows: the token table (``tokenizers.table``)."""
        return token_table(self)


def read_tokenizer_file(path: str | Path) -> dict:
    """The JSON object of a saved tokenizer; a missing, empty, binary or non-JSON file is one sentence."""
    path = Path(path)
    if path.is_dir():
        raise TokenizerError(f"{path} is a directory, not a tokenizer file.")
    if not path.is_file():
        raise TokenizerError(f"tokenizer file {path} does not exist.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TokenizerError(f"cannot read the tokenizer file {path} ({exc.strerror}).") from None
    if not raw.strip():
        raise TokenizerError(f"tokenizer file {path} is empty; train or copy it again.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenizerError(
            f"tokenizer file {path} is corrupted or not JSON ({exc.__class__.__name__}); train or copy it again."
        ) from None
    if not isinstance(data, dict):
        raise TokenizerError(
            f"tokenizer file {path} is not a glassgpt tokenizer (its JSON is a "
            f'{type(data).__name__}, not an object with a "type" field).'
        )
    return data


def rebuild(cls: type[T], data: dict, source: str) -> T:
    """``cls.from_dict(data)``, with any problem in ``data`` reported as ``source`` being corrupted."""
    try:
        return cls.from_dict(data)
    except TokenizerError as exc:
        raise TokenizerError(f"{source} is corrupted: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TokenizerError(f"{source} is corrupted ({exc.__class__.__name__}: {exc}).") from None
