"""What one worker process does: read a task's byte ranges, check and decode them, encode.

Every document starts with the end-of-text id, so documents are separated by it.  A BPE
encoder is tiktoken built from our ranks when tiktoken is installed (the fast path), else
glassgpt's own BPE; both give the same ids.  A char or byte tokenizer (with the end-of-text
token added after its vocabulary) encodes through ``tokenizers.encode_ordinary``.
Special-token text inside a document is encoded as plain text: only the separators are
end-of-text ids.  ``chars_task`` is the pass before a char vocabulary exists: it returns
the distinct characters of a task's text.  Every error names the file and the line.
"""

from __future__ import annotations

import os
from array import array

import numpy as np
import regex

from glassgpt.data.text import decode_text
from glassgpt.errors import DataError
from glassgpt.fileio import json_object_line
from glassgpt.tokenizers import BPETokenizer, encode_ordinary, from_dict

_SURROGATE = regex.compile(r"[\ud800-\udfff]")

#: set by ``init`` in each worker (and in the main process when it encodes itself)
_job: dict | None = None


def _encoder(tokenizer: tuple[str, dict]):
    kind, data = tokenizer
    if kind == "bpe":
        tok = BPETokenizer._from_state(data)
        try:
            return tok.to_tiktoken().encode_ordinary
        except ImportError:
            return tok.encode_ordinary
    other = from_dict(data)
    return lambda text: encode_ordinary(other, text)


def init(paths: list[str], tokenizer: tuple[str, dict] | None, eot: int, dtype: str, jsonl: str | None) -> None:
    """``tokenizer``: ("bpe", its state) or ("json", its ``to_dict()``); None for ``chars_task``."""
    global _job
    if _job is not None:  # a process that prepares again closes the files of the last time
        for fd in _job["fds"].values():
            os.close(fd)
    encode = _encoder(tokenizer) if tokenizer is not None else None
    _job = {"paths": paths, "encode": encode, "eot": eot, "dtype": np.dtype(dtype), "jsonl": jsonl, "fds": {}}


def _read(file: int, start: int, end: int) -> bytes:
    fds = _job["fds"]
    if file not in fds:
        if len(fds) >= 64:
            for fd in fds.values():
                os.close(fd)
            fds.clear()
        fds[file] = os.open(_job["paths"][file], os.O_RDONLY)
    return os.pread(fds[file], end - start, start)


def _lines_before(path: str, offset: int) -> int:
    """Line breaks in the file ``path`` before byte ``offset``."""
    count = 0
    with open(path, "rb") as fh:
        while offset > 0:
            block = fh.read(min(offset, 1 << 24))
            if not block:
                break
            count += block.count(b"\n")
            offset -= len(block)
    return count


def _jsonl_text(data: bytes, path: str, start: int) -> str | None:
    field = _job["jsonl"]
    if not data.strip():
        return None

    def fail(what: str) -> DataError:
        return DataError(
            f"line {_lines_before(path, start) + 1:,} of {path} {what}; every line must be a JSON object "
            f"with a text field {field!r}."
        )

    record = json_object_line(data, fail)
    if field not in record:
        raise fail(f"has no field {field!r}")
    text = record[field]
    if not isinstance(text, str):
        raise fail(f"has a {type(text).__name__} in {field!r}, not text")
    if _SURROGATE.search(text):
        raise fail("holds a lone surrogate escape (\\ud800-\\udfff), which is not valid Unicode")
    return text or None


def _texts(task: tuple):
    """(starts a document, text) of every unit of ``task`` that holds text, in order."""
    _number, files, starts, ends, firsts = task
    paths, jsonl = _job["paths"], _job["jsonl"]
    for file, start, end, first in zip(files.tolist(), starts.tolist(), ends.tolist(), firsts.tolist()):
        data, path = _read(file, start, end), paths[file]
        if jsonl:
            text = _jsonl_text(data, path, start)
        else:
            text = decode_text(data, path, start, lambda path=path, start=start: _lines_before(path, start))
            if first and not text.strip():
                text = None
        if text is not None:
            yield first, text


def encode_task(task: tuple) -> tuple[int, bytes, int, int]:
    """-> (task number, token ids as bytes of the shard dtype, documents, UTF-8 bytes of text)."""
    encode, eot = _job["encode"], _job["eot"]
    ids = array("I")
    docs = text_bytes = 0
    for first, text in _texts(task):
        if first:
            ids.append(eot)
            docs += 1
        ids.extend(encode(text))
        text_bytes += len(text.encode("utf-8"))
    out = np.frombuffer(ids, dtype=np.uint32) if len(ids) else np.zeros(0, np.uint32)
    return task[0], out.astype(_job["dtype"]).tobytes(), docs, text_bytes


def chars_task(task: tuple) -> tuple[int, str]:
    """-> (task number, the distinct characters of its text, sorted)."""
    seen: set[str] = set()
    for _first, text in _texts(task):
        seen.update(text)
    return task[0], "".join(sorted(seen))
