"""Rebuilding any glassgpt tokenizer from its JSON: the registry of tokenizer types.

A saved tokenizer is a JSON object whose ``"type"`` names its class (``char``, ``byte``,
``word``, ``bpe``); ``load(path)`` reads the file and ``from_dict`` picks the class.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import TokenizerError
from .base import Tokenizer
from .bpe import BPETokenizer
from .byte import ByteTokenizer
from .char import CharTokenizer
from .word import WordTokenizer

REGISTRY: dict[str, type[Tokenizer]] = {
    "char": CharTokenizer,
    "byte": ByteTokenizer,
    "word": WordTokenizer,
    "bpe": BPETokenizer,
}


def load(path: str | Path) -> Tokenizer:
    """Load any glassgpt tokenizer JSON file."""
    path = Path(path)
    if not path.is_file():
        raise TokenizerError(f"tokenizer file {path} does not exist.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenizerError(f"tokenizer file {path} is corrupted ({exc.__class__.__name__}); "
                             "train or copy it again.") from None
    return from_dict(data, source=str(path))


def from_dict(data: dict, source: str = "tokenizer data") -> Tokenizer:
    if not isinstance(data, dict) or data.get("type") not in REGISTRY:
        kind = data.get("type") if isinstance(data, dict) else None
        raise TokenizerError(
            f"{source} is not a glassgpt tokenizer (type {kind!r}; expected one of {', '.join(sorted(REGISTRY))})."
        )
    try:
        return REGISTRY[data["type"]].from_dict(data)
    except TokenizerError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise TokenizerError(f"{source} is corrupted ({exc.__class__.__name__}: {exc}).") from None
