"""Plan the preparation of a corpus larger than memory, without holding its text.

The plan lists *units*: byte ranges of the input files.  In text mode every file is
one document, cut into pieces of about ``piece_bytes`` where the GPT-2/GPT-4 pre-split
patterns would cut anyway (after ``"x\\n"`` before a letter, see
``tokenizers.bpe_parallel``), so pieces encode exactly like the whole file.  With
``jsonl=FIELD`` every non-empty line is a unit and a document.

Documents are shuffled with the seed by permuting an array of document numbers, never
their text; a document's pieces stay together and in order.  The plan costs about 100
bytes per unit while it is made and 21 bytes per unit (file, start, end, first) after.

The validation split is the start of the shuffled stream, ``val_fraction`` of its bytes:
it ends at the document boundary nearest to that share when the boundary lands within a
tenth of it (``WHOLE_DOCUMENTS``), else inside the document that holds the share, right
after the line break nearest to it (a character boundary in a document without one), so
the share holds to within one line.  A JSONL document is never cut: there the nearest
boundary between documents decides.  Units are grouped into *tasks* of about
``piece_bytes`` that never cross the split boundary; a task is what one worker process
encodes at a time.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassgpt.data.text import check_bytes, find_files
from glassgpt.errors import DataError
from glassgpt.tokenizers.bpe_parallel import SAFE_CUT

SNIFF_BYTES = 8192
_WINDOW = 1 << 16
_SCAN_BLOCK = 1 << 24
#: the validation split is whole documents when their boundary is this close to the asked share (relative)
WHOLE_DOCUMENTS = 0.1


def resolve_inputs(inputs: str | os.PathLike | list, jsonl: str | None) -> list[Path]:
    """Files named by paths, folders (``.txt`` or, with ``jsonl``, ``.jsonl`` files below
    them, sorted) or glob patterns (sorted; ``**`` recurses); duplicates removed."""
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not items:
        raise DataError("no input given; pass --input with a file, a folder or a glob pattern.")
    suffixes = (".jsonl",) if jsonl else (".txt",)
    files: list[Path] = []
    for item in items:
        text = os.path.expanduser(os.fspath(item))
        if glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if not matches:
                raise DataError(
                    f"the pattern {text!r} matches no files; check the path and quote it so the shell does not expand it."
                )
            files += matches
            continue
        path = Path(text)
        if path.is_dir():
            found = find_files(path, suffixes)
            if not found:
                raise DataError(f"the folder {path} contains no {' or '.join(suffixes)} files.")
            files += found
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise DataError(f"{path} is not a regular file or a folder; give text files.")
        else:
            raise DataError(f"{path} does not exist; give a file, a folder or a glob pattern.")
    seen: set[Path] = set()
    unique = [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]
    return unique


def fingerprint(files: list[Path]) -> list[list]:
    """(path, size, mtime in ns) of every input: a resumed preparation refuses changed inputs."""
    out = []
    for f in files:
        st = f.stat()
        out.append([str(f), st.st_size, st.st_mtime_ns])
    return out


def _sniff(path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}; check its permissions.") from None
    check_bytes(head, str(path))


def _find_cut(fh, pos: int, size: int) -> int | None:
    """The first safe cut at or after byte ``pos`` (None if there is none before the end)."""
    while pos < size:
        fh.seek(pos)
        raw = fh.read(_WINDOW + 8)
        skip = 0
        while skip < min(3, len(raw)) and 0x80 <= raw[skip] < 0xC0:  # start on a character
            skip += 1
        text = raw[skip:].decode("utf-8", errors="surrogateescape")
        match = SAFE_CUT.search(text)
        if match is not None:
            return pos + skip + len(text[: match.start()].encode("utf-8", errors="surrogateescape"))
        pos += _WINDOW  # windows overlap by 8 bytes, so no cut between them is missed
    return None


def _text_units(path: Path, size: int, piece_bytes: int, can_cut: bool) -> list[tuple[int, int]]:
    if not can_cut or size <= piece_bytes:
        return [(0, size)]
    bounds = [0]
    with open(path, "rb") as fh:
        while bounds[-1] + piece_bytes < size:
            cut = _find_cut(fh, bounds[-1] + piece_bytes, size)
            if cut is None or cut >= size:
                break
            bounds.append(cut)
    bounds.append(size)
    return list(zip(bounds, bounds[1:]))


def _line_units(path: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) byte offsets of every non-empty line (the newline excluded)."""
    starts, ends = [], []
    line_start = 0
    with open(path, "rb") as fh:
        offset = 0
        while True:
            block = fh.read(_SCAN_BLOCK)
            if not block:
                break
            nl = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + offset
            if len(nl):
                starts.append(np.concatenate([[line_start], nl[:-1] + 1]))
                ends.append(nl)
                line_start = int(nl[-1]) + 1
            offset += len(block)
    if line_start < size:
        starts.append(np.array([line_start]))
        ends.append(np.array([size]))
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    s, e = np.concatenate(starts).astype(np.int64), np.concatenate(ends).astype(np.int64)
    keep = e > s
    return s[keep], e[keep]


@dataclass
class Plan:
    """Units in processing order (validation first) and their grouping into tasks."""

    files: list[Path]
    file: np.ndarray  # int32: index into ``files``
    start: np.ndarray  # int64: first byte
    end: np.ndarray  # int64: one past the last byte
    first: np.ndarray  # bool: the unit starts a document
    n_val: int  # units[:n_val] are the validation split
    task_bounds: np.ndarray  # int64: task i is units[task_bounds[i]:task_bounds[i+1]]

    @property
    def n_tasks(self) -> int:
        return len(self.task_bounds) - 1

    def task(self, i: int) -> tuple:
        lo, hi = int(self.task_bounds[i]), int(self.task_bounds[i + 1])
        return (i, self.file[lo:hi], self.start[lo:hi], self.end[lo:hi], self.first[lo:hi])

    def task_split(self, i: int) -> str:
        return "val" if self.task_bounds[i] < self.n_val else "train"

    def task_bytes(self, i: int) -> int:
        lo, hi = int(self.task_bounds[i]), int(self.task_bounds[i + 1])
        return int((self.end[lo:hi] - self.start[lo:hi]).sum())

    @property
    def total_bytes(self) -> int:
        return int((self.end - self.start).sum())


def make_plan(
    files: list[Path], jsonl: str | None, can_cut: bool, seed: int, val_fraction: float, piece_bytes: int
) -> Plan:
    """Scan the inputs (streaming) and return the shuffled, split and grouped plan."""
    file_idx, starts, ends, docs = [], [], [], []
    n_docs = 0
    sizes = [f.stat().st_size for f in files]
    for i, (path, size) in enumerate(zip(files, sizes)):
        if size == 0:
            continue
        _sniff(path)
        if jsonl:
            s, e = _line_units(path, size)
            d = np.arange(n_docs, n_docs + len(s))
        else:
            pieces = _text_units(path, size, piece_bytes, can_cut)
            s = np.array([a for a, _ in pieces], np.int64)
            e = np.array([b for _, b in pieces], np.int64)
            d = np.full(len(s), n_docs)
        n_docs += len(s) if jsonl else 1
        file_idx.append(np.full(len(s), i, np.int32))
        starts.append(s)
        ends.append(e)
        docs.append(d)
    if n_docs == 0:
        what = files[0] if len(files) == 1 else f"every one of the {len(files)} input files"
        raise DataError(f"{what} is empty; give files with some text in them.")
    f_all, s_all, e_all, d_all = (np.concatenate(x) for x in (file_idx, starts, ends, docs))
    rank = np.random.Generator(np.random.PCG64(seed)).permutation(n_docs)
    if len(d_all) == n_docs:  # one unit per document: invert the permutation, no sort needed
        order = np.empty_like(rank)
        order[rank] = np.arange(n_docs)
        first = np.ones(n_docs, bool)
    else:
        order = np.argsort(rank[d_all], kind="stable")  # documents shuffled, pieces kept in order
        d_all = d_all[order]
        first = np.ones(len(d_all), bool)
        first[1:] = d_all[1:] != d_all[:-1]
    del rank, d_all
    f_all, s_all, e_all = f_all[order], s_all[order], e_all[order]
    del order
    n_val = 0
    if val_fraction > 0:
        f_all, s_all, e_all, first, n_val = _split(files, f_all, s_all, e_all, first, val_fraction, bool(jsonl))
    sizes_u = e_all - s_all
    cum = np.cumsum(sizes_u)
    bounds = [0]
    for lo, hi in ((0, n_val), (n_val, len(cum))):
        if hi <= lo:
            continue
        before = cum[lo:hi] - sizes_u[lo:hi] - (cum[lo - 1] if lo else 0)
        bucket = before // piece_bytes
        bounds += list(np.flatnonzero(np.diff(bucket)) + 1 + lo) + [hi]
    return Plan(files, f_all, s_all, e_all, first, n_val, np.array(bounds, np.int64))


def _nearest_line_end(path: Path, lo: int, hi: int, at: int) -> int | None:
    """The file position right after a line break, strictly between ``lo`` and ``hi``, nearest
    to ``at`` (None if there is none): windows around ``at`` that grow until one holds a break."""
    width = _WINDOW
    with open(path, "rb") as fh:
        while True:
            a, b = max(lo + 1, at - width), min(hi - 1, at + width)  # the candidate positions
            if a > b:
                return None
            fh.seek(a - 1)
            block = np.frombuffer(fh.read(b - a + 1), dtype=np.uint8)  # bytes a-1 … b-1
            cuts = np.flatnonzero(block == 10) + a
            if len(cuts):
                return int(cuts[np.argmin(np.abs(cuts - at))])
            if a == lo + 1 and b == hi - 1:
                return None
            width *= 4


def _nearest_character(path: Path, lo: int, hi: int, at: int) -> int | None:
    """The start of a UTF-8 character strictly between ``lo`` and ``hi`` nearest to ``at``,
    never between a carriage return and its line feed (None if there is none)."""
    a, b = max(lo + 1, at - 4), min(hi - 1, at + 4)
    if a > b:
        return None
    with open(path, "rb") as fh:
        fh.seek(a - 1)
        raw = fh.read(b - a + 2)  # bytes a-1 … b
    ok = [p for p in range(a, b + 1) if not 0x80 <= raw[p - a + 1] < 0xC0 and raw[p - a : p - a + 2] != b"\r\n"]
    return min(ok, key=lambda p: abs(p - at)) if ok else None


def _split(files: list[Path], file, start, end, first, val_fraction: float, jsonl: bool):
    """(file, start, end, first, n_val): the units, the one that holds the split cut in two
    where needed, and how many of them are validation (see the module docstring)."""
    cum = np.cumsum(end - start)
    total = int(cum[-1])
    target = val_fraction * total

    def before(i: int) -> int:  # the stream position where unit i starts
        return int(cum[i - 1]) if i else 0

    k = min(int(np.searchsorted(cum, target, side="left")), len(cum) - 1)  # the unit holding the share
    doc_starts = np.flatnonzero(first)
    after = int(np.searchsorted(doc_starts, k, side="right"))
    ends = (int(doc_starts[after - 1]), int(doc_starts[after]) if after < len(doc_starts) else len(cum))
    whole = [(abs(before(i) - target), i) for i in ends if 0 < before(i) < total]
    if whole and (jsonl or min(whole)[0] <= WHOLE_DOCUMENTS * target):
        return file, start, end, first, min(whole)[1]
    if jsonl:
        raise DataError(
            "the input holds a single JSONL document, which cannot be cut for validation; "
            "give more lines or --val-fraction 0."
        )
    lo, hi = before(k), int(cum[k])
    options = [(abs(b - target), b) for b in (lo, hi) if 0 < b < total]  # unit k's ends: piece or document ends
    path, s, e = files[int(file[k])], int(start[k]), int(end[k])
    at = s + round(target - lo)
    inside = _nearest_line_end(path, s, e, at)
    if inside is None and not options:
        inside = _nearest_character(path, s, e, at)
    if inside is not None:
        options.append((abs(lo + inside - s - target), lo + inside - s))
    if not options:
        raise DataError(
            f"the input is too small to hold out {val_fraction:g} of it for validation; "
            "give more text or --val-fraction 0."
        )
    cut = min(options)[1]
    if cut in (lo, hi):
        return file, start, end, first, k + (cut == hi)
    at = s + cut - lo
    return (
        np.insert(file, k + 1, file[k]),
        np.insert(start, k + 1, at),
        np.insert(end, k, at),
        np.insert(first, k + 1, False),
        k + 1,
    )
