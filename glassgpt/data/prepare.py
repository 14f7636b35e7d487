"""``glassgpt data prepare``: a corpus of any size -> token shards + ``index.json``.

The input is streamed: it is planned (``sources``), encoded task by task in worker
processes (``prepare_worker``) and written in order, so memory holds a few tasks of about
``piece_bytes`` of text however large the input is.  The output folder holds

* ``val_000000.bin`` …, ``train_000000.bin`` …: raw little-endian token ids (uint16 when
  the vocabulary fits, else uint32), ``shard_tokens`` per shard except the last of each
  split; each split is one stream of documents, each document preceded by ``<|endoftext|>``;
* ``tokenizer.json``: the tokenizer (glassgpt's format);
* ``index.json``: tokens per shard, documents and bytes per split, how the split was cut,
  the tokenizer spec, the settings and a fingerprint of the inputs.  Written last: it
  marks the folder complete.

The tokenizer is a ready BPE with ``<|endoftext|>`` (cl100k, gpt2:RANKS, bpe:FILE), ``byte``
(the 256 bytes, end-of-text 256) or ``char``: one id per distinct character of the inputs,
collected by a first pass over them (which also finds every bad line before anything is
written), then end-of-text.  ``word`` and a bare ``bpe`` are refused in one sentence.

A shard is written to a hidden ``.partial`` file, fsynced and renamed; after each shard,
``progress.json`` records where the next one starts (task and token offset) and the counts
so far.  Run the same command again after an interruption and it continues from there;
the output is byte for byte what an uninterrupted run writes, whatever ``workers`` is.
A run that fails leaves nothing behind in a folder it started: it removes what it wrote
(and the folders it made), unless it was interrupted after a shard, which it keeps to
resume.  An unfinished preparation that recorded no shard holds nothing worth keeping: a
run with other inputs or settings starts it again and says so.
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
from glassgpt.errors import ConfigError, DataError, GlassError
from glassgpt.fileio import fsync_dir, read_json, write_json
from glassgpt.progress import ByteTask, message
from glassgpt.tokenizers import BPETokenizer, ByteTokenizer, CharTokenizer, Tokenizer, add_special_tokens, load
from glassgpt.tokenizers.bpe_parallel import default_processes
from glassgpt.tokenizers.spec import EOT, corpus_tokenizer, parse

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


def _ready_tokenizer(spec: str) -> Tokenizer | None:
    """The tokenizer ``spec`` names, with ``<|endoftext|>``; None for ``char``, whose
    vocabulary the inputs decide (``_char_tokenizer``)."""
    kind = parse(spec, files=True).kind
    if kind == "char":
        return None
    if kind == "byte":
        return add_special_tokens(ByteTokenizer(), [EOT])
    if kind == "word":
        raise ConfigError(
            "--tokenizer word does not suit a prepared corpus (its vocabulary grows with every new word and "
            "decoding loses the spacing); use char, byte or a BPE (cl100k, gpt2:RANKS or bpe:FILE)."
        )
    if kind == "bpe":
        raise ConfigError(
            "data prepare does not train a BPE; train one first with `glassgpt tokenizer train --data FILES "
            f"--vocab-size N --special '{EOT}' --out tok.json` and pass --tokenizer bpe:tok.json (or use char, "
            "byte or cl100k)."
        )
    return corpus_tokenizer(spec)


def _tokenizer_sha(tok: Tokenizer | None) -> str | None:
    """A fingerprint of a BPE's ranks, pattern and specials (no merge derivation), of another
    tokenizer's saved form, or None for ``char`` (the inputs' fingerprint decides it)."""
    if tok is None:
        return None
    if not isinstance(tok, BPETokenizer):
        return hashlib.sha256(json.dumps(tok.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    h = hashlib.sha256(json.dumps([tok.pattern, sorted(tok.special_tokens.items())]).encode())
    for token in tok._state()["tokens"]:
        h.update(len(token).to_bytes(4, "little") + token)
    return h.hexdigest()[:16]


def _worker_tokenizer(tok: Tokenizer) -> tuple[str, dict]:
    """What a worker rebuilds the encoder from (``prepare_worker.init``)."""
    return ("bpe", tok._state()) if isinstance(tok, BPETokenizer) else ("json", tok.to_dict())


def _claim(out: Path, fp: dict, overwrite: bool) -> tuple[dict | None, list[str]]:
    """(record, stale): ``record`` is None for a fresh start, the progress record to resume,
    or the finished index; ``stale`` names the files of an earlier preparation to remove
    before this one writes (nothing is removed here: the inputs are checked first)."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file, not a folder; choose another --out.")
    if not out.is_dir() or not any(out.iterdir()):
        return None, []
    names = sorted(p.name for p in out.iterdir())
    foreign = [n for n in names if not _OURS.match(n)]
    if foreign:
        raise DataError(
            f"--out {out} is not empty and is not a prepared corpus (it holds {foreign[0]!r}); "
            "choose a new or empty folder."
        )
    what, worthless = "leftover shards", not any(n.endswith(".bin") for n in names)
    for name, kind in ((INDEX, "a corpus prepared"), (PROGRESS, "an unfinished preparation")):
        if (out / name).is_file():
            record = read_json(out / name, f"the {name} of {out}")
            if record.get("fingerprint") == fp and not overwrite:
                return record, []
            what = kind
            worthless = name == PROGRESS and not any(record.get("shards", {}).values())
            break
    if worthless and not overwrite:
        message(
            f"note: --out {out} holds an unfinished preparation of other inputs or settings that wrote "
            "no shard; starting again."
        )
    elif not overwrite:
        raise DataError(
            f"--out {out} holds {what} with other inputs or settings; pass --overwrite to replace it "
            "or choose another --out."
        )
    return None, names


def _make_folder(out: Path) -> list[Path]:
    """Create ``out`` and its missing parents; returns the folders made, deepest first."""
    made = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create --out {out} ({exc.strerror}).") from None
    return made


def _remove_ours(out: Path, made: list[Path]) -> None:
    """Undo a failed fresh start: the files this run wrote, then the folders it made."""
    for path in out.iterdir():
        if _OURS.match(path.name):
            path.unlink(missing_ok=True)
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            break


def _pool_context():
    """Fork where it is safe and cheap (Linux): workers start before any of our threads and
    need no importable ``__main__``; elsewhere the platform's default (spawn)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _results(plan: Plan, start: int, pool, workers: int, initargs: tuple, job=None):
    """``job(task)`` (by default ``encode_task``: task, ids bytes, documents, text bytes) for
    tasks ``start``… in order; at most ``2 * workers`` tasks are in flight, so memory does
    not grow with the input."""
    job = job or prepare_worker.encode_task
    tasks = (plan.task(i) for i in range(start, plan.n_tasks))
    if pool is None:
        prepare_worker.init(*initargs)
        for task in tasks:
            yield job(task)
        return
    pending = deque(pool.apply_async(job, (t,)) for t in islice(tasks, 2 * workers))
    while pending:
        result = pending.popleft().get()
        task = next(tasks, None)
        if task is not None:
            pending.append(pool.apply_async(job, (task,)))
        yield result


def _pool(workers: int, initargs: tuple):
    """Worker processes that start before any of our threads (None: encode in this process)."""
    return _pool_context().Pool(workers, prepare_worker.init, initargs) if workers > 1 else None


def _char_tokenizer(plan: Plan, workers: int, initargs: tuple, progress: bool | None) -> Tokenizer:
    """One pass over the inputs for their distinct characters: the char vocabulary, then
    end-of-text.  Bad bytes and lines are found here, before anything is written."""
    seen: set[str] = set()
    pool = _pool(workers, initargs)
    try:
        with ByteTask("characters", plan.total_bytes, enabled=progress is not False) as bar:
            for number, chars in _results(plan, 0, pool, workers, initargs, prepare_worker.chars_task):
                seen.update(chars)
                bar.advance(plan.task_bytes(number))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if not seen:
        raise DataError("the inputs hold no text to train on (every document is empty or whitespace).")
    return add_special_tokens(CharTokenizer(sorted(seen)), [EOT])


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
    touched, except damage deep inside a file (invalid UTF-8, a bad JSONL line) with a ready
    tokenizer, which is found while encoding: the error names the file and the line, and a
    run that started fresh removes what it wrote (see the module docstring)."""
    _check_settings(shard_tokens, workers, val_fraction, seed, jsonl, piece_bytes)
    tok = _ready_tokenizer(tokenizer)
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
    fp = {"settings": settings, "tokenizer_sha256_16": _tokenizer_sha(tok), "inputs": fingerprint(files)}
    record, stale = _claim(out, fp, overwrite)
    if record is not None and "splits" in record:
        return record  # already prepared with these inputs and settings
    can_cut = not isinstance(tok, BPETokenizer) or tok.pattern_name in ("gpt2", "gpt4")
    plan = make_plan(files, jsonl, can_cut, seed, val_fraction, piece_bytes)
    start = record["next_task"] if record else 0
    n_workers = workers or (default_processes() if plan.total_bytes >= 4 * piece_bytes else 1)
    paths = [str(f) for f in files]
    if tok is None:  # char: the inputs' characters; a resumed run reads the vocabulary it saved
        if record is None:
            chars_args = (paths, None, 0, "uint32", jsonl)
            tok = _char_tokenizer(plan, max(1, min(n_workers, plan.n_tasks)), chars_args, progress)
        else:
            tok = load(out / TOKENIZER)
    dtype = token_dtype(tok.vocab_size)
    made: list[Path] = []
    if record is None:
        for name in stale:
            (out / name).unlink(missing_ok=True)
        made = _make_folder(out)
        record = {
            "format": FORMAT,
            "fingerprint": fp,
            "next_task": 0,
            "skip": 0,
            "counts": {s: {"documents": 0, "bytes": 0} for s in SPLITS},
            "shards": {s: [] for s in SPLITS},
        }
    fresh = start == 0 and not any(record["shards"].values())
    try:
        if fresh:
            tok.save(out / TOKENIZER)
            write_json(out / PROGRESS, record)
        _encode(out, plan, tok, dtype, record, max(1, min(n_workers, plan.n_tasks - start)), paths, progress)
        return _finish(out, record, plan, tok, dtype)
    except BaseException as exc:
        if fresh and (isinstance(exc, GlassError) or not any(record["shards"].values())):
            _remove_ours(out, made)
        raise


def _encode(out: Path, plan: Plan, tok: Tokenizer, dtype: np.dtype, record: dict, workers: int, paths, progress):
    """Encode tasks ``record["next_task"]``… and write their shards, recording progress."""
    _drop_unrecorded(out, record["shards"])
    counts = record["counts"]

    def checkpoint(resume_at: tuple[int, int]) -> None:
        record.update(next_task=resume_at[0], skip=resume_at[1], counts=counts)
        write_json(out / PROGRESS, record)

    start, skip = record["next_task"], record["skip"]
    settings = record["fingerprint"]["settings"]
    initargs = (paths, _worker_tokenizer(tok), tok.special_tokens[EOT], dtype.name, settings["jsonl"])
    pool = _pool(workers, initargs)  # workers start before the progress bar's thread exists
    resumed = sum(plan.task_bytes(i) for i in range(start))
    bar = ByteTask("prepare", plan.total_bytes, done=resumed, enabled=progress is not False)
    writer = _Writer(out, dtype, settings["shard_tokens"], record["shards"], checkpoint)
    try:
        with bar:
            for number, raw, docs, nbytes in _results(plan, start, pool, workers, initargs):
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
    inside = 0 < plan.n_val < len(plan.first) and not plan.first[plan.n_val]
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
        # where validation ends: between two documents, or inside one (right after a line break)
        "split": {
            "val_fraction": record["fingerprint"]["settings"]["val_fraction"],
            "cut": "inside a document" if inside else "between documents",
        },
        "inputs": {"files": len(plan.files), "bytes": plan.total_bytes},
        "fingerprint": record["fingerprint"],
    }
    write_json(out / INDEX, index)
    (out / PROGRESS).unlink(missing_ok=True)
    fsync_dir(out)
    return index
