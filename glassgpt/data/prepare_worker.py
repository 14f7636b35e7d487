"""What one worker process does: read a task's byte ranges, check and decode them, encode.

Every document starts with the end-of-text id, so documents are separated by it.  The
encoder is tiktoken built from our ranks when tiktoken is installed (the fast path), else
glassgpt's own BPE; both give the same ids.  Special-token text inside a document is
encoded as plain text: only the separators are end-of-text ids.
"""

from __future__ import annotations

import os
from array import array

import numpy as np
import regex

from glassgpt.data.text import decode_text
from glassgpt.errors import DataError
from glassgpt.fileio import json_object_line
from glassgpt.tokenizers.bpe import BPETokenizer

_SURROGATE = regex.compile(r"[\ud800-\udfff]")

#: set by ``init`` in each worker (and in the main process when it encodes itself)
_job: dict | None = None


def init(paths: list[str], tokenizer_state: dict, eot: int, dtype: str, jsonl: str | None) -> None:
    global _job
    tok = BPETokenizer._from_state(tokenizer_state)
    try:
        encode = tok.to_tiktoken().encode_ordinary
    except ImportError:
        encode = tok.encode_ordinary
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


def _line_number(path: str, offset: int) -> int:
    count = 0
    with open(path, "rb") as fh:
        while offset > 0:
            block = fh.read(min(offset, 1 << 24))
            if not block:
                break
            count += block.count(b"\n")
            offset -= len(block)
    return count + 1


def _jsonl_text(data: bytes, path: str, start: int) -> str | None:
    field = _job["jsonl"]
    if not data.strip():
        return None

    def fail(what: str) -> DataError:
        return DataError(
            f"line {_line_number(path, start)} of {path} {what}; every line must be a JSON object "
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


def encode_task(task: tuple) -> tuple[int, bytes, int, int]:
    """-> (task number, token ids as bytes of the shard dtype, documents, UTF-8 bytes of text)."""
    number, files, starts, ends, firsts = task
    job = _job
    encode, eot, paths = job["encode"], job["eot"], job["paths"]
    ids = array("I")
    docs = text_bytes = 0
    for file, start, end, first in zip(files.tolist(), starts.tolist(), ends.tolist(), firsts.tolist()):
        data = _read(file, start, end)
        if job["jsonl"]:
            text = _jsonl_text(data, paths[file], start)
        else:
            text = decode_text(data, paths[file], offset=start)
            if first and not text.strip():
                text = None
        if text is None:
            continue
        if first:
            ids.append(eot)
            docs += 1
        ids.extend(encode(text))
        text_bytes += len(text.encode("utf-8"))
    out = np.frombuffer(ids, dtype=np.uint32) if len(ids) else np.zeros(0, np.uint32)
    return number, out.astype(job["dtype"]).tobytes(), docs, text_bytes
