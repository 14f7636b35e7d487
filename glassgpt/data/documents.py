"""Packed documents: many texts in one token stream, separated by the end-of-text token.

A run packs documents when ``data.files`` lists several paths (``--data A B C``: each file
is a document, a folder contributes each of its ``.txt`` files) or ``data.jsonl_field``
names a field (``--jsonl-field text``: ``data.path``, or each of ``data.files``, is JSONL
and every line's field is a document).  The stream is

    <|endoftext|> doc 1 <|endoftext|> doc 2 … <|endoftext|> doc N <|endoftext|>

so every document *starts* with the end-of-text token (it plays the part of "beginning of
text": a model given only it writes the start of a new document), and the last token of
each document learns to predict the end.  The tokenizer gets the token if it lacks it
(``tokenizers.add_special_tokens``: a new id after the vocabulary of a char, byte, word
or BPE tokenizer; a bpe:FILE tokenizer that already has ``<|endoftext|>`` keeps its id).
Document text is encoded as plain text: ``<|endoftext|>`` written inside a document stays
characters.

``train.doc_mask = true`` stops attention at document boundaries inside a window: a
token's segment id counts the end-of-text tokens up to and including it
(``document_segments``), the model attends only within a segment and positions restart at
0 at every document (``document_positions``), so each document is computed exactly as if
it were alone in its window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassgpt.data import read_source
from glassgpt.data.text import decode_text, read_folder_texts, read_text
from glassgpt.data.tokens import split_tokens
from glassgpt.errors import DataError
from glassgpt.models.segments import document_segments
from glassgpt.tokenizers import END_OF_TEXT, Tokenizer, add_special_tokens, encode_ordinary


@dataclass(frozen=True)
class TrainingText:
    """What a new run trains on: ``text`` (the tokenizer is built from it) and, when the run
    packs documents, the ``documents`` themselves (None: ``text`` is one plain stream)."""

    text: str
    documents: tuple[str, ...] | None = None

    def adapt(self, tokenizer: Tokenizer) -> Tokenizer:
        """The tokenizer the run uses: with the end-of-text token when packing."""
        return tokenizer if self.documents is None else add_special_tokens(tokenizer, [END_OF_TEXT])

    def encode_splits(self, tokenizer: Tokenizer, val_fraction: float, min_tokens: int):
        """(train, val, meta) as ``data.tokens.encode_splits``; packed when there are documents."""
        if self.documents is None:
            ids = np.asarray(tokenizer.encode_corpus(self.text), dtype=np.int64)
        else:
            ids = pack(self.documents, tokenizer)
        train, val, meta = split_tokens(ids, tokenizer, val_fraction, min_tokens, self.text)
        if self.documents is not None:
            meta = {**meta, "documents": len(self.documents), "end_of_text": tokenizer.special_tokens[END_OF_TEXT]}
        return train, val, meta


def load_training_text(data_cfg, text: str | None = None) -> TrainingText:
    """The corpus a run's ``[data]`` section names (``text``, when given, replaces it)."""
    if text is not None:
        return TrainingText(text)
    docs = read_documents(data_cfg)
    if docs is None:
        return TrainingText(read_source(data_cfg))
    return TrainingText("\n\n".join(docs), tuple(docs))


def packs_documents(data_cfg) -> bool:
    return bool(data_cfg.files) or bool(data_cfg.jsonl_field)


def read_documents(data_cfg) -> list[str] | None:
    """The documents of a packing run (see the module docstring), or None when it does not pack."""
    if not packs_documents(data_cfg):
        return None
    paths = [Path(p) for p in (data_cfg.files or [data_cfg.path])]
    if not any(str(p) for p in paths):
        raise DataError("--jsonl-field needs --data FILE.jsonl naming the file to read.")
    docs: list[str] = []
    for path in paths:
        if data_cfg.jsonl_field:
            docs += read_jsonl_field(path, data_cfg.jsonl_field)
        elif path.is_dir():
            docs += read_folder_texts(path)
        else:
            docs.append(read_text(path))
    if not docs:
        raise DataError(f"no documents were found in {', '.join(map(str, paths))}; give files with some text.")
    return docs


def read_jsonl_field(path: Path, field: str) -> list[str]:
    """The text in ``field`` of every non-blank line of the JSONL file ``path`` (empty texts skipped)."""
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; give a JSONL file.")
    try:
        text = decode_text(path.read_bytes(), str(path))
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror}); check its permissions.") from None
    docs = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {number} is not valid JSON ({exc.msg} at column {exc.colno}).") from None
        value = obj.get(field) if isinstance(obj, dict) else None
        if not isinstance(value, str):
            found = "has no field" if not isinstance(obj, dict) or field not in obj else "has a non-text field"
            raise DataError(
                f"{path} line {number} {found} {field!r}; every line needs {field!r} as a string "
                "(choose the field with --jsonl-field)."
            )
        if value.strip():
            docs.append(value)
    if not docs:
        raise DataError(f"{path} holds no text in the field {field!r}; give a JSONL file with some documents.")
    return docs


def pack(documents, tokenizer: Tokenizer) -> np.ndarray:
    """``<|endoftext|> doc 1 <|endoftext|> … doc N <|endoftext|>`` as int64 ids."""
    eot = tokenizer.special_tokens[END_OF_TEXT]
    parts = []
    for doc in documents:
        parts.append([eot])
        parts.append(encode_ordinary(tokenizer, doc))
    parts.append([eot])
    return np.fromiter((i for part in parts for i in part), dtype=np.int64)


class DocumentBatches:
    """Wraps a batch source (``next(n) -> (x, y)``, ``state()``, ``set_state()``) so that each
    batch also carries its segment ids: ``next(n) -> (x, y, segments)``."""

    def __init__(self, loader, eot_id: int):
        self.loader, self.eot_id = loader, eot_id

    def next(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y = self.loader.next(n)
        return x, y, document_segments(x, self.eot_id)

    def state(self):
        return self.loader.state()

    def set_state(self, state) -> None:
        self.loader.set_state(state)
