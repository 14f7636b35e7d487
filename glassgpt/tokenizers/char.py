"""Character-level tokenizer: one id per distinct character of the training text."""

from __future__ import annotations

from collections.abc import Iterable

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers.base import Tokenizer


class CharTokenizer(Tokenizer):
    type = "char"

    def __init__(self, chars: Iterable[str]):
        self.chars = list(chars)
        if any(len(c) != 1 for c in self.chars) or len(set(self.chars)) != len(self.chars):
            raise TokenizerError("a char vocabulary must list distinct single characters.")
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        """The vocabulary is the sorted set of characters in ``text``."""
        if not text:
            raise TokenizerError("cannot build a character vocabulary from empty text.")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        stoi = self.stoi
        try:
            return [stoi[c] for c in text]
        except KeyError as exc:
            ch = exc.args[0]
            raise TokenizerError(
                f"the character {ch!r} (U+{ord(ch):04X}) is not in this model's vocabulary of "
                f"{self.vocab_size} characters; remove it or train on text that contains it."
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in self.check_ids(ids))

    def token_bytes(self, idx: int) -> bytes:
        return self.chars[self.check_ids([idx])[0]].encode("utf-8", errors="surrogatepass")

    def to_dict(self) -> dict:
        return {"type": self.type, "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, data: dict) -> CharTokenizer:
        return cls(list(data["chars"]))
