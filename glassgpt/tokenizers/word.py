"""Word-level tokenizer: words split on whitespace, plus special words such as ``<END>``.

The vocabulary is sorted (special words first, in the order given) so that the same
text always yields the same ids.  Decoding joins words with single spaces, except that
a special word listed in ``line_breaks`` is followed by a newline.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers.base import Tokenizer


class WordTokenizer(Tokenizer):
    type = "word"

    def __init__(self, words: Iterable[str], specials: Iterable[str] = (), line_breaks: Iterable[str] = ()):
        self.words = list(words)
        self.specials = list(specials)
        self.line_breaks = set(line_breaks)
        if len(set(self.words)) != len(self.words):
            raise TokenizerError("a word vocabulary must not list a word twice.")
        self.stoi = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def train(cls, text: str, specials: Iterable[str] = ("<END>",), end_of_line: str | None = "<END>") -> WordTokenizer:
        """Vocabulary = specials + sorted distinct words.  With ``end_of_line``, every line
        break in the text is read as that special word (so lines end with ``<END>``)."""
        specials = list(specials)
        words = sorted(set(cls._split(text, end_of_line)) - set(specials))
        if not words:
            raise TokenizerError("cannot build a word vocabulary from text without words.")
        return cls(specials + words, specials, [end_of_line] if end_of_line else [])

    @staticmethod
    def _split(text: str, end_of_line: str | None) -> list[str]:
        if end_of_line is None:
            return text.split()
        out: list[str] = []
        for line in text.splitlines():
            words = line.split()
            if words:
                out.extend(words)
                if words[-1] != end_of_line:
                    out.append(end_of_line)
        return out

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @property
    def special_tokens(self) -> dict[str, int]:
        return {s: self.stoi[s] for s in self.specials}

    def encode(self, text: str) -> list[int]:
        eol = next(iter(self.line_breaks), None)
        words = self._split(text, eol) if "\n" in text else text.split()
        ids = []
        for w in words:
            idx = self.stoi.get(w)
            if idx is None:
                near = difflib.get_close_matches(w, self.words, n=3)
                hint = f" (closest known: {', '.join(near)})" if near else ""
                raise TokenizerError(
                    f"the word {w!r} is not in this model's vocabulary{hint}; known words: "
                    f"{' '.join(self.words[:60])}{' …' if len(self.words) > 60 else ''}"
                )
            ids.append(idx)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        out = []
        for i in self.check_ids(ids):
            w = self.words[i]
            out.append(w + ("\n" if w in self.line_breaks else " "))
        return "".join(out).rstrip(" ")

    def token_bytes(self, idx: int) -> bytes:
        """A word plus the one separator that follows it in the text."""
        w = self.words[self.check_ids([idx])[0]]
        return (w + ("\n" if w in self.line_breaks else " ")).encode("utf-8")

    def token_str(self, idx: int) -> str:
        return self.words[self.check_ids([idx])[0]]

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "words": self.words,
            "specials": self.specials,
            "line_breaks": sorted(self.line_breaks),
        }

    @classmethod
    def from_dict(cls, data: dict) -> WordTokenizer:
        return cls(data["words"], data.get("specials", []), data.get("line_breaks", []))
