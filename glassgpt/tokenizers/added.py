"""Special tokens added to a tokenizer that was trained without them.

Packing documents needs an end-of-text token, and the chat template needs
``<|user_start|>`` and friends.  ``add_special_tokens(tokenizer, names)`` returns a
tokenizer that holds them, keeping every existing id and appending new ids after the
vocabulary (``vocab_size``, ``vocab_size + 1`` …, in the order given):

* ``bpe``: a new ``BPETokenizer`` with the extra specials (specials it already has keep
  their ids), so tiktoken / Hugging Face export keeps working;
* ``char`` and ``byte``: a ``SpecialsTokenizer`` wrapping the original (saved as
  ``{"type": "specials", "base": {...}, "special_tokens": {...}}``);
* ``word``: a new ``WordTokenizer`` with the names appended as special words.

``SpecialsTokenizer.encode`` follows the BPE (tiktoken) policy for special-token text:
refused unless allowed (``allowed_special="all"``), or encoded as plain text with
``disallowed_special=()``.  ``encode_ordinary(tokenizer, text)`` encodes any tokenizer's
text with special-token text as plain text; the chat template uses it for message
contents, so a user who types ``<|assistant_end|>`` gets those characters, never the token.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Literal

import regex

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers.base import Tokenizer
from glassgpt.tokenizers.bpe import BPETokenizer
from glassgpt.tokenizers.bpe_specials import check_specials, special_policy
from glassgpt.tokenizers.byte import ByteTokenizer
from glassgpt.tokenizers.char import CharTokenizer
from glassgpt.tokenizers.word import WordTokenizer

#: the end-of-text token that separates packed documents (the name GPT-2 and tiktoken use)
END_OF_TEXT = "<|endoftext|>"

#: tokenizers a ``SpecialsTokenizer`` may wrap (they have no specials of their own)
WRAPPABLE: dict[str, type[Tokenizer]] = {"char": CharTokenizer, "byte": ByteTokenizer}


class SpecialsTokenizer(Tokenizer):
    """A char or byte tokenizer plus special tokens whose ids follow its vocabulary."""

    type = "specials"

    def __init__(self, base: Tokenizer, special_tokens: dict[str, int] | Collection[str]):
        if base.type not in WRAPPABLE:
            raise TokenizerError(
                f"special tokens can be added this way to a char or byte tokenizer, not {base.type!r}."
            )
        if not isinstance(special_tokens, dict):
            names = list(special_tokens)
            special_tokens = {s: base.vocab_size + i for i, s in enumerate(names)}
        self.base = base
        self._specials = check_specials(special_tokens, base.vocab_size)
        expected = set(range(base.vocab_size, base.vocab_size + len(self._specials)))
        if set(self._specials.values()) != expected:
            raise TokenizerError(
                f"the special tokens must take the ids right after the base vocabulary "
                f"({base.vocab_size} …), without gaps."
            )
        self._by_id = {i: s for s, i in self._specials.items()}

    @property
    def vocab_size(self) -> int:
        return self.base.vocab_size + len(self._specials)

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self._specials)

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | Collection[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Text -> ids; special-token text follows the BPE policy (see the module docstring)."""
        allowed = special_policy(self._specials, text, allowed_special, disallowed_special)
        if not allowed:
            return self.base.encode(text)
        pattern = regex.compile("|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True)))
        out: list[int] = []
        start = 0
        for match in pattern.finditer(text):
            out.extend(self.base.encode(text[start : match.start()]))
            out.append(self._specials[match.group()])
            start = match.end()
        out.extend(self.base.encode(text[start:]))
        return out

    def encode_ordinary(self, text: str) -> list[int]:
        """Text -> ids of the base tokenizer: special-token text stays plain text."""
        return self.base.encode(text)

    def encode_corpus(self, text: str):
        """A training corpus: special-token text becomes the specials."""
        return self.encode(text, allowed_special="all")

    def decode(self, ids: Iterable[int]) -> str:
        out: list[str] = []
        run: list[int] = []
        for i in self.check_ids(ids):
            if i in self._by_id:
                out.append(self.base.decode(run))
                out.append(self._by_id[i])
                run = []
            else:
                run.append(i)
        out.append(self.base.decode(run))
        return "".join(out)

    def token_bytes(self, idx: int) -> bytes:
        idx = self.check_ids([idx])[0]
        return self._by_id[idx].encode("utf-8") if idx in self._by_id else self.base.token_bytes(idx)

    def is_assigned(self, idx: int) -> bool:
        return idx in self._by_id or self.base.is_assigned(idx)

    def token_str(self, idx: int) -> str:
        idx = self.check_ids([idx])[0]
        return self._by_id[idx] if idx in self._by_id else self.base.token_str(idx)

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "base": self.base.to_dict(),
            "special_tokens": dict(sorted(self._specials.items(), key=lambda kv: kv[1])),
        }

    @classmethod
    def from_dict(cls, data: dict) -> SpecialsTokenizer:
        base = data["base"]
        kind = base.get("type") if isinstance(base, dict) else None
        if kind not in WRAPPABLE:
            raise TokenizerError(f"the base tokenizer must be char or byte, not {kind!r}.")
        return cls(WRAPPABLE[kind].from_dict(base), data["special_tokens"])


def add_special_tokens(tokenizer: Tokenizer, names: Iterable[str]) -> Tokenizer:
    """``tokenizer`` holding every special in ``names``: those it has keep their ids, the
    others get new ids after its vocabulary, in order.  Returns ``tokenizer`` itself when
    nothing is missing.  A special that is part of another (or contains one) is refused."""
    have = tokenizer.special_tokens
    new = [n for n in dict.fromkeys(names) if n not in have]
    if not new:
        return tokenizer
    if isinstance(tokenizer, BPETokenizer):
        data = tokenizer.to_dict()
        specials = {**data["special_tokens"], **{n: tokenizer.vocab_size + i for i, n in enumerate(new)}}
        return BPETokenizer.from_dict({**data, "special_tokens": specials})
    if isinstance(tokenizer, SpecialsTokenizer):
        return SpecialsTokenizer(tokenizer.base, {**have, **{n: tokenizer.vocab_size + i for i, n in enumerate(new)}})
    if isinstance(tokenizer, WordTokenizer):
        fresh = [n for n in new if n not in tokenizer.stoi]  # a word already known just becomes special
        return WordTokenizer(tokenizer.words + fresh, tokenizer.specials + new, tokenizer.line_breaks)
    if tokenizer.type in WRAPPABLE:
        return SpecialsTokenizer(tokenizer, new)
    raise TokenizerError(f"cannot add special tokens to a {tokenizer.type!r} tokenizer.")


def encode_ordinary(tokenizer: Tokenizer, text: str) -> list[int]:
    """``text`` -> ids with any special-token text encoded as plain text."""
    if isinstance(tokenizer, (BPETokenizer, SpecialsTokenizer)):
        return tokenizer.encode_ordinary(text)
    return tokenizer.encode(text)
