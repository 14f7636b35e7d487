"""``glassgpt data prepare``: a corpus of any size -> token shards + ``index.json``.

The input is streamed: it is planned (``sources``), encoded task by task in worker
processes (``prepare_worker``) and written in order, so memory holds a few tasks of about
``piece_bytes`` of text however large the input is.  The output folder holds

* ``val_000000.bin`` …, ``train_000000.bin`` …: raw little-endian token ids (uint16 when
  the vocabulary fits, else uint32), ``shard_tokens`` per shard except the last of each
  split; each split is one stream of documents, each document preceded by ``<|endoftext|>``;
* ``tokenizer.json``: the tokenizer (glassgpt's format);
* ``index.json``: tokens per shard, documents and bytes per split, the tokenizer spec, the
  settings and a fingerprint of the inputs.  Written last: it marks the folder complete.

A shard is written to a hidden ``.partial`` file, fsynced and renamed; after each shard,
``progress.json`` records where the next one starts (task and token offset) and the counts
so far.  Run the same command again after an interruption and it continues from there;
the output is byte for byte what an uninterrupted run writes, whatever ``workers`` is.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import sys
from collections import deque
from itertools import islice
from pathlib import Path

import numpy as np

from glassgpt.data import prepare_worker
from glassgpt.data.sources import Plan, fingerprint, make_plan, resolve_inputs
from glassgpt.data.tokens import token_dtype
from glassgpt.errors import ConfigError, DataError
from glassgpt.fileio import fsync_dir, read_json, write_json
from glassgpt.progress import ByteTask
from glassgpt.tokenizers.bpe_parallel import default_processes
from glassgpt.tokenizers.spec import EOT, corpus_tokenizer

FORMAT, VERSION = "glassgpt-shards", 1
INDEX, PROGRESS, TOKENIZER = "index.json", "progress.json", "tokenizer.json"
_OURS = re.compile(
    r"^(index\.json|progress\.json|tokenizer\.json|(train|val)_\d{6}\.bin|\.(train|val)_\d{6}\.bin\.partial)$"
)
SPLITS = ("val", "train")


def _whole(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low:,} to {high:,}, not {value!r}.")
    return value


def _check_settings(shard_tokens, workers, val_fraction, seed, jsonl, piece_bytes) -> None:
    _whole(shard_tokens, "--shard-tokens", 1, 1 << 40)
    if workers is not None:
        _whole(workers, "--workers", 1, 256)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise ConfigError(f"--val-fraction must be a number in [0, 1), not {val_fraction!r}.")
    _whole(seed, "--seed", 0, 2**63 - 1)
    if jsonl is not None and (not isinstance(jsonl, str) or not jsonl):
        raise ConfigError("--jsonl needs the name of the field that holds the text, e.g. --jsonl text.")
    _whole(piece_bytes, "piece_bytes", 1, 1 << 34)


def _tokenizer_sha(tok) -> str:
    """A fingerprint of the tokenizer's ranks, pattern and specials (no merge derivation)."""
    h = hashlib.sha256(json.dumps([tok.pattern, sorted(tok.special_tokens.items())]).encode())
    for token in tok._state()["tokens"]:
        h.update(len(token).to_bytes(4, "little") + token)
    return h.hexdigest()[:16]


def _claim(out: Path, fp: dict, overwrite: bool) -> dict | None:
    """None for a fresh start, the progress record to resume, or the finished index."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file, not a folder; choose another --out.")
    if not out.is_dir() or not any(out.iterdir()):
        return None
    names = [p.name for p in out.iterdir()]
    foreign = [n for n in names if not _OURS.match(n)]
    if foreign:
        raise DataError(
            f"--out {out} is not empty and is not a prepared corpus (it holds {foreign[0]!r}); "
            "choose a new or empty folder."
        )
    for name, what in ((INDEX, "a corpus prepared"), (PROGRESS, "an unfinished preparation")):  # noqa: B007
        if (out / name).is_file():
            record = read_json(out / name, f"the {name} of {out}")
            if record.get("fingerprint") == fp and not overwrite:
                return record
            break
    else:
        what = "leftover shards"
    if not overwrite:
        raise DataError(
            f"--out {out} holds {what} with other inputs or settings; pass --overwrite to replace it "
            "or choose another --out."
        )
    for name in names:
        (out / name).unlink()
    return None


def _pool_context():
    """Fork where it is safe and cheap (Linux): workers start before any of our threads and
    need no importable ``__main__``; elsewhere the platform's default (spawn)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _encoded(plan: Plan, start: int, pool, workers: int, initargs: tuple):
    """(task, ids bytes, documents, text bytes) for tasks ``start``… in order; at most
    ``2 * workers`` tasks are in flight, so memory does not grow with the input."""
    tasks = (plan.task(i) for i in range(start, plan.n_tasks))
    if pool is None:
        prepare_worker.init(*initargs)
        for task in tasks:
            yield prepare_worker.encode_task(task)
        return
    pending = deque(pool.apply_async(prepare_worker.encode_task, (t,)) for t in islice(tasks, 2 * workers))
    while pending:
        result = pending.popleft().get()
        task = next(tasks, None)
        if task is not None:
            pending.append(pool.apply_async(prepare_worker.encode_task, (task,)))
        yield result


class _Writer:
    """Appends ids to ``<split>_NNNNNN`` shards of ``shard_tokens``; calls ``on_shard`` after each."""

    def __init__(self, out: Path, dtype: np.dtype, shard_tokens: int, shards: dict, on_shard):
        self.out, self.dtype, self.n, self.shards, self.on_shard = out, dtype, shard_tokens, shards, on_shard
        self.split, self.fh, self.count = None, None, 0

    def _name(self) -> str:
        return f"{self.split}_{len(self.shards[self.split]):06d}.bin"

    def write(self, ids: np.ndarray, position: tuple[int, int]) -> None:
        """``position`` = (task, offset of ``ids[0]`` in that task's output)."""
        task, offset = position
        while len(ids):
            if self.fh is None:
                self.fh = open(self.out / f".{self._name()}.partial", "wb")
            take = ids[: self.n - self.count]
            self.fh.write(take.tobytes())
            self.count += len(take)
            ids, offset = ids[len(take) :], offset + len(take)
            if self.count == self.n:
                self.close_shard((task, offset))

    def close_shard(self, resume_at: tuple[int, int]) -> None:
        if self.fh is None:
            return
        name = self._name()
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.out / f".{name}.partial", self.out / name)
        fsync_dir(self.out)
        self.shards[self.split].append({"file": name, "tokens": self.count})
        self.fh, self.count = None, 0
        self.on_shard(resume_at)

    def switch(self, split: str, task: int) -> None:
        if split != self.split:
            if self.split is not None:
                self.close_shard((task, 0))
            self.split = split


def prepare(
    inputs,
    tokenizer: str,
    out: str | os.PathLike,
    *,
    shard_tokens: int = 100_000_000,
    workers: int | None = None,
    val_fraction: float = 0.01,
    seed: int = 1337,
    jsonl: str | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    piece_bytes: int = 1 << 20,
) -> dict:
    """Tokenize ``inputs`` (paths, folders or globs) into shards in ``out``; returns the index.

    Everything that can be wrong with the inputs or settings is refused before ``out`` is
    touched, except damage deep inside a file (invalid UTF-8, a bad JSONL line), which is
    found while encoding: the error names the file and byte offset or line, the shards
    written so far stay, and a run with fixed inputs needs ``overwrite``."""
    _check_settings(shard_tokens, workers, val_fraction, seed, jsonl, piece_bytes)
    tok = corpus_tokenizer(tokenizer)
    out = Path(out)
    files = [f for f in resolve_inputs(inputs, jsonl) if out.resolve() not in f.resolve().parents]
    if not files:
        raise DataError(f"every input file is inside --out {out}; give inputs outside the output folder.")
    settings = {
        "tokenizer": tokenizer,
        "shard_tokens": shard_tokens,
        "val_fraction": val_fraction,
        "seed": seed,
        "jsonl": jsonl,
        "piece_bytes": piece_bytes,
    }
    tok_sha = _tokenizer_sha(tok)
    fp = {"settings": settings, "tokenizer_sha256_16": tok_sha, "inputs": fingerprint(files)}
    record = _claim(out, fp, overwrite)
    if record is not None and "splits" in record:
        return record  # already prepared with these inputs and settings
    plan = make_plan(files, jsonl, tok.pattern_name in ("gpt2", "gpt4"), seed, val_fraction, piece_bytes)
    dtype = token_dtype(tok.vocab_size)
    if record is None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create --out {out} ({exc.strerror}).") from None
        tok.save(out / TOKENIZER)
        record = {
            "format": FORMAT,
            "fingerprint": fp,
            "next_task": 0,
            "skip": 0,
            "counts": {s: {"documents": 0, "bytes": 0} for s in SPLITS},
            "shards": {s: [] for s in SPLITS},
        }
        write_json(out / PROGRESS, record)
    _drop_unrecorded(out, record["shards"])
    counts = record["counts"]

    def checkpoint(resume_at: tuple[int, int]) -> None:
        record.update(next_task=resume_at[0], skip=resume_at[1], counts=counts)
        write_json(out / PROGRESS, record)

    start, skip = record["next_task"], record["skip"]
    n_workers = workers or (default_processes() if plan.total_bytes >= 4 * piece_bytes else 1)
    n_workers = max(1, min(n_workers, plan.n_tasks - start))
    initargs = ([str(f) for f in files], tok._state(), tok.special_tokens[EOT], dtype.name, jsonl)
    # workers start before the progress bar's thread exists
    pool = _pool_context().Pool(n_workers, prepare_worker.init, initargs) if n_workers > 1 else None
    resumed = sum(plan.task_bytes(i) for i in range(start))
    bar = ByteTask("prepare", plan.total_bytes, done=resumed, enabled=progress is not False)
    writer = _Writer(out, dtype, shard_tokens, record["shards"], checkpoint)
    try:
        with bar:
            for number, raw, docs, nbytes in _encoded(plan, start, pool, n_workers, initargs):
                split = plan.task_split(number)
                writer.switch(split, number)
                ids = np.frombuffer(raw, dtype=dtype)
                offset = skip if number == start else 0
                writer.write(ids[offset:], (number, offset))
                counts[split] = {
                    "documents": counts[split]["documents"] + docs,
                    "bytes": counts[split]["bytes"] + nbytes,
                }
                bar.advance(plan.task_bytes(number))
            writer.close_shard((plan.n_tasks, 0))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if writer.fh is not None:
            writer.fh.close()
    return _finish(out, record, plan, tok, dtype)


def _drop_unrecorded(out: Path, shards: dict) -> None:
    """Remove partial files and shards written after the last progress record."""
    recorded = {s["file"] for split in shards.values() for s in split}
    for path in out.iterdir():
        if path.name.endswith(".partial") or (path.name.endswith(".bin") and path.name not in recorded):
            path.unlink()


def _finish(out: Path, record: dict, plan: Plan, tok, dtype: np.dtype) -> dict:
    shards, counts = record["shards"], record["counts"]
    tokens = {s: sum(x["tokens"] for x in shards[s]) for s in SPLITS}
    if tokens["train"] < 2:
        raise DataError("the inputs hold no text to train on (every document is empty or whitespace).")
    if record["fingerprint"]["settings"]["val_fraction"] > 0 and tokens["val"] < 2:
        raise DataError(
            "the validation split came out empty (its documents are blank); use --val-fraction 0 or more text."
        )
    raw_val = int((plan.end[: plan.n_val] - plan.start[: plan.n_val]).sum())
    raw = {"val": raw_val, "train": plan.total_bytes - raw_val}
    index = {
        "format": FORMAT,
        "version": VERSION,
        "tokenizer": {
            "spec": record["fingerprint"]["settings"]["tokenizer"],
            "file": TOKENIZER,
            "vocab_size": tok.vocab_size,
            "eot": EOT,
            "eot_id": tok.special_tokens[EOT],
        },
        "dtype": dtype.name,
        "splits": {
            s: {
                "tokens": tokens[s],
                "documents": counts[s]["documents"],
                "bytes": counts[s]["bytes"],
                "input_bytes": raw[s],
                "shards": shards[s],
            }
            for s in SPLITS
        },
        "inputs": {"files": len(plan.files), "bytes": plan.total_bytes},
        "fingerprint": record["fingerprint"],
    }
    write_json(out / INDEX, index)
    (out / PROGRESS).unlink(missing_ok=True)
    fsync_dir(out)
    return index
