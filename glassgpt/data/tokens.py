"""Text -> token files: encode once, split train/val, write ``train.bin``/``val.bin`` + ``meta.json``.

Token files are raw little-endian arrays (uint16 when the vocabulary fits, else uint32)
that the batch loader memory-maps.  ``meta.json`` records the dtype, the split sizes and
the UTF-8 byte count of each split, so bits per byte can be reported honestly.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from glassgpt.errors import DataError, FileError, count
from glassgpt.fileio import atomic_write, read_json, write_json


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def text_fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]


def encode_splits(text: str, tokenizer, val_fraction: float, min_tokens: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Encode ``text`` and split off the last ``val_fraction`` of the tokens as validation.

    ``min_tokens`` is the smallest usable split (one sequence plus its target); a corpus
    too short for it is refused with a clear message.  Nothing is written here."""
    ids = np.asarray(tokenizer.encode_corpus(text), dtype=np.int64)
    return split_tokens(ids, tokenizer, val_fraction, min_tokens, text)


def split_tokens(
    ids: np.ndarray, tokenizer, val_fraction: float, min_tokens: int, text: str
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Split encoded ``ids`` (of ``text``) as ``encode_splits`` does, with the same checks and meta.

    The splits come back at the token files' dtype (uint16 for a vocabulary of at most 65,536),
    the same arrays a resumed run memory-maps: a character-level Tiny Shakespeare run holds
    2.2 MB of tokens rather than 8.9 MB at int64.  Batches are widened when they are drawn."""
    ids = ids.astype(token_dtype(tokenizer.vocab_size), copy=False)
    n_val = int(len(ids) * val_fraction)
    train, val = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
    if len(train) < min_tokens:
        raise DataError(
            f"the text has only {count(len(ids), 'token')}, too few for one training sequence of "
            f"{count(min_tokens - 1, 'token')}; use more text or a smaller model.block_size / train.seq_len."
        )
    if val_fraction > 0 and len(val) < min_tokens:
        raise DataError(
            f"the validation split has only {count(len(val), 'token')}, fewer than one sequence of "
            f"{count(min_tokens - 1, 'token')}; "
            "use more text, a larger data.val_fraction, or data.val_fraction=0."
        )
    nbytes = np.array([len(tokenizer.token_bytes(i)) for i in range(tokenizer.vocab_size)], dtype=np.int64)
    meta = {
        "dtype": token_dtype(tokenizer.vocab_size).name,
        "vocab_size": tokenizer.vocab_size,
        "train_tokens": int(len(train)),
        "val_tokens": int(len(val)),
        "train_bytes": int(nbytes[train].sum()),
        "val_bytes": int(nbytes[val].sum()),
        "text_chars": len(text),
        "text_sha256_16": text_fingerprint(text),
    }
    return train, val, meta


def write_splits(out_dir: str | Path, train: np.ndarray, val: np.ndarray, meta: dict) -> None:
    """Write ``train.bin``, ``val.bin`` (atomically) and then ``meta.json``."""
    out_dir = Path(out_dir)
    dtype = np.dtype(meta["dtype"])
    for name, split in (("train", train), ("val", val)):
        atomic_write(out_dir / f"{name}.bin", lambda tmp, s=split: _write_array(tmp, s.astype(dtype)))
    write_json(out_dir / "meta.json", meta)


def _write_array(path: str, array: np.ndarray) -> None:
    """The raw bytes of ``array`` (through Python's file object: a full disk raises ``OSError``
    with its errno, where ``ndarray.tofile`` loses it)."""
    with open(path, "wb") as f:
        f.write(memoryview(np.ascontiguousarray(array)).cast("B"))


def read_meta(data_dir: str | Path) -> dict:
    """The data cache's ``meta.json`` (dtype, split sizes, the text's fingerprint)."""
    try:
        meta = read_json(Path(data_dir) / "meta.json", "data cache meta file")
    except FileError as exc:
        raise DataError(f"{exc} Start a new run to rebuild the data cache.") from None
    if not isinstance(meta, dict):
        raise DataError(f"data cache meta file {Path(data_dir) / 'meta.json'} is corrupted; start a new run.")
    return meta


def open_split(data_dir: str | Path, split: str) -> np.ndarray:
    """Memory-map one split's token file (read-only)."""
    data_dir = Path(data_dir)
    meta = read_meta(data_dir)
    path = data_dir / f"{split}.bin"
    if not path.is_file():
        raise DataError(f"token file {path} is missing; start a new run to rebuild the data cache.")
    dtype = np.dtype(meta["dtype"])
    expected = meta[f"{split}_tokens"] * dtype.itemsize
    if path.stat().st_size != expected:
        raise DataError(
            f"token file {path} has the wrong size (expected {expected} bytes); the data cache is corrupted."
        )
    if expected == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")
