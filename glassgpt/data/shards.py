"""Read prepared shards: one split as one virtual token array, and a streaming loader.

``open_prepared(DIR)`` checks ``index.json`` and every shard's size, and returns the
tokenizer and each split as a ``ShardedTokens``: the concatenation of the split's
memory-mapped shards, indexable like a NumPy array (ints, slices, integer arrays), so the
existing ``BatchLoader``/``fixed_batches``/``all_windows`` work on it unchanged.  Only
the pages a batch touches are read; nothing is loaded whole.

``ShardLoader`` draws training windows without replacement.  The split (length ``L``) is
cut into ``W = (L - 1) // seq_len`` consecutive windows; window ``w`` has inputs
``tokens[w*T : w*T + T]`` and targets one further, so windows may span shard ends and
every target is a real next token.  Epoch ``e`` visits all ``W`` windows in the order
of a keyed pseudo-random permutation (a Feistel network with cycle walking: O(1) memory,
whatever ``W`` is).  The state is one number, the global sample count ``g``: sample
``g`` is window ``perm_e(g mod W)`` of epoch ``e = g // W``.

With ``world_size`` ranks, a call ``next(n)`` on rank ``r`` takes samples
``g + r*n … g + r*n + n - 1`` and every rank advances ``g`` by ``n * world_size``, so the
ranks' windows are disjoint within an epoch, and ``N`` ranks × batch ``B`` see exactly the
windows that one process sees with batch ``B`` × ``N`` accumulation steps.  Because ``g``
counts samples globally, a checkpoint resumed under a different world size continues at
the same sample: no window is repeated or skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glassgpt.errors import DataError, FileError
from glassgpt.fileio import read_json
from glassgpt.tokenizers import load as load_tokenizer

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_ROUNDS = 4


class ShardedTokens:
    """The tokens of several shard files as one read-only 1-D array."""

    def __init__(self, paths: list[Path], counts: list[int], dtype: np.dtype):
        self.dtype = np.dtype(dtype)
        self.paths, self.counts = list(paths), [int(c) for c in counts]
        self.starts = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self._maps: list[np.ndarray | None] = [None] * len(paths)

    def __len__(self) -> int:
        return int(self.starts[-1])

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)

    def _map(self, i: int) -> np.ndarray:
        if self._maps[i] is None:
            self._maps[i] = np.memmap(self.paths[i], dtype=self.dtype, mode="r", shape=(self.counts[i],))
        return self._maps[i]

    def __getitem__(self, key):
        n = len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                return self[np.arange(start, stop, step)]
            return self._range(start, max(start, stop))
        if isinstance(key, (int, np.integer)):
            k = int(key) + (n if key < 0 else 0)
            if not 0 <= k < n:
                raise IndexError(f"index {int(key)} is out of range for {n} tokens")
            shard = int(np.searchsorted(self.starts, k, side="right")) - 1
            return self._map(shard)[k - self.starts[shard]]
        idx = np.asarray(key, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"an index is out of range for {n} tokens")
        shard = np.searchsorted(self.starts, idx, side="right") - 1
        out = np.empty(idx.shape, dtype=self.dtype)
        for s in np.unique(shard):
            where = shard == s
            out[where] = self._map(int(s))[idx[where] - self.starts[s]]
        return out

    def _range(self, a: int, b: int) -> np.ndarray:
        parts = []
        for s in range(len(self.counts)):
            lo, hi = max(a, self.starts[s]), min(b, self.starts[s + 1])
            if lo < hi:
                parts.append(self._map(s)[lo - self.starts[s] : hi - self.starts[s]])
        return np.concatenate(parts) if parts else np.zeros(0, self.dtype)

    def __array__(self, dtype=None, copy=None):
        arr = self[:]
        return arr.astype(dtype) if dtype is not None else arr


class PreparedCorpus:
    """A prepared folder: ``index`` (the JSON), ``tokenizer``, ``split(name)``."""

    def __init__(self, path: Path, index: dict, tokenizer):
        self.path, self.index, self.tokenizer = path, index, tokenizer

    def split(self, name: str) -> ShardedTokens:
        info = self.index["splits"][name]
        return ShardedTokens(
            [self.path / s["file"] for s in info["shards"]],
            [s["tokens"] for s in info["shards"]],
            np.dtype(self.index["dtype"]),
        )


def open_prepared(path: str | Path) -> PreparedCorpus:
    """Open a folder written by ``prepare``; one clear sentence for anything missing or damaged."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path} does not exist or is not a folder; prepare it with glassgpt data prepare.")
    if not (path / "index.json").is_file():
        if (path / "progress.json").is_file():
            raise DataError(
                f"{path} is an unfinished preparation; run the same glassgpt data prepare command again to finish it."
            )
        raise DataError(f"{path} is not a prepared corpus (no index.json); prepare it with glassgpt data prepare.")
    try:
        index = read_json(path / "index.json", "the corpus index")
    except FileError as exc:
        raise DataError(str(exc)) from None
    if not isinstance(index, dict) or index.get("format") != "glassgpt-shards":
        raise DataError(f"{path / 'index.json'} is not a glassgpt shard index.")
    try:
        dtype = np.dtype(index["dtype"])
        for _name, info in index["splits"].items():
            for shard in info["shards"]:
                file = path / shard["file"]
                expected = int(shard["tokens"]) * dtype.itemsize
                if not file.is_file() or file.stat().st_size != expected:
                    got = f"{file.stat().st_size} bytes" if file.is_file() else "missing"
                    raise DataError(
                        f"shard {file} is damaged ({got}, expected {expected} bytes); prepare the corpus again."
                    )
        tokenizer = load_tokenizer(path / index["tokenizer"]["file"])
    except (KeyError, TypeError) as exc:
        raise DataError(f"{path / 'index.json'} is corrupted (missing {exc}); prepare the corpus again.") from None
    return PreparedCorpus(path, index, tokenizer)


# ---- a keyed permutation of range(n) without a table ---------------------------------------
def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fast, well-spread hash of 64-bit integers."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def permute(i: np.ndarray, n: int, key: int) -> np.ndarray:
    """``perm(i)`` for a permutation of ``range(n)`` chosen by ``key`` (a bijection for every n ≥ 1)."""
    half = max(1, ((max(n, 2) - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    keys = _mix(np.arange(1, _ROUNDS + 1, dtype=np.uint64) + np.uint64(key % (1 << 64)))
    x = np.asarray(i, dtype=np.uint64).copy()
    todo = np.ones(x.shape, bool)
    with np.errstate(over="ignore"):
        while todo.any():  # cycle walking: values that leave range(n) go round again
            left, right = x[todo] >> np.uint64(half), x[todo] & mask
            for k in keys:
                left, right = right, left ^ (_mix(right ^ k) & mask)
            x[todo] = (left << np.uint64(half)) | right
            todo = x >= np.uint64(n)
    return x.astype(np.int64)


class ShardLoader:
    """Windows of ``seq_len`` tokens (x) and their next tokens (y), without replacement per
    epoch; ``next(n)`` returns ``n`` of them for this rank.  See the module docstring."""

    def __init__(self, tokens, seq_len: int, seed: int, rank: int = 0, world_size: int = 1):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside a world of {world_size}")
        self.tokens, self.seq_len, self.seed = tokens, int(seq_len), int(seed)
        self.rank, self.world_size = rank, world_size
        self.windows = (len(tokens) - 1) // self.seq_len
        if self.windows < 1:
            raise DataError(
                f"the split has {len(tokens)} tokens, fewer than one sequence of {seq_len} plus its target."
            )
        self.sample = 0

    def positions(self, samples: np.ndarray) -> np.ndarray:
        """The first token position of each global sample number."""
        samples = np.asarray(samples, dtype=np.int64)
        epoch, k = np.divmod(samples, self.windows)
        out = np.empty(samples.shape, np.int64)
        for e in np.unique(epoch):
            where = epoch == e
            key = _mix(_mix(np.array([self.seed % (1 << 64)], np.uint64)) ^ np.uint64(e))[0]
            out[where] = permute(k[where], self.windows, int(key))
        return out * self.seq_len

    def next(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        first = self.sample + self.rank * n
        starts = self.positions(np.arange(first, first + n))
        self.sample += n * self.world_size
        idx = starts[:, None] + np.arange(self.seq_len + 1)[None, :]
        chunk = np.asarray(self.tokens[idx], dtype=np.int64)
        return chunk[:, :-1], chunk[:, 1:]

    @property
    def epoch(self) -> float:
        return self.sample / self.windows

    def state(self) -> dict:
        return {"sample": self.sample, "windows": self.windows, "seq_len": self.seq_len, "seed": self.seed}

    def set_state(self, state: dict) -> None:
        if (
            state.get("windows") != self.windows
            or state.get("seq_len") != self.seq_len
            or state.get("seed") != self.seed
        ):
            raise DataError(
                "the saved loader position belongs to different data, sequence length or seed; "
                "resume with the data and settings the run started with."
            )
        self.sample = int(state["sample"])
