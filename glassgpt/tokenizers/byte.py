"""Byte-level tokenizer: the 256 possible UTF-8 bytes are the vocabulary; nothing is unknown."""

from __future__ import annotations

from collections.abc import Iterable

from glassgpt.tokenizers.base import Tokenizer


class ByteTokenizer(Tokenizer):
    type = "byte"

    @property
    def vocab_size(self) -> int:
        return 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Bytes that do not form valid UTF-8 become U+FFFD unless ``errors='strict'``."""
        return bytes(self.check_ids(ids)).decode("utf-8", errors=errors)

    def token_bytes(self, idx: int) -> bytes:
        return bytes(self.check_ids([idx]))

    def token_str(self, idx: int) -> str:
        b = self.token_bytes(idx)
        return chr(b[0]) if 32 <= b[0] < 127 else f"\\x{b[0]:02x}"

    def to_dict(self) -> dict:
        return {"type": self.type}

    @classmethod
    def from_dict(cls, data: dict) -> ByteTokenizer:
        return cls()
