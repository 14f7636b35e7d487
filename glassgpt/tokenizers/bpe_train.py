"""Learning BPE merges fast, in plain Python, with the textbook algorithm beside it.

The textbook algorithm (count every adjacent pair, merge the most frequent one into a
new id, repeat) is ``learn_merges_by_recount`` at the end of this file.  It recounts the
whole text after every merge: ``merges x text`` work.  Three observations make
``learn_merges`` fast without changing a single merge:

1. **Identical chunks are counted once.**  After the regex pre-split a megabyte of
   English is ~200,000 chunks but only ~25,000 distinct ones.  Each distinct chunk
   is a *word*: a list of ids plus how often it occurs (its *frequency*).
2. **Pair counts are kept up to date, not recounted.**  Merging ``(a, b)`` only
   changes the pairs right next to each occurrence of ``a b``, and only in the
   words that contain ``a b``.  ``where[pair]`` remembers those words.
3. **The best pair comes from a heap.**  ``heap`` holds ``(-count, pair)`` entries.
   When a count grows we push a new entry; when it shrinks we leave the old one
   ("lazy invalidation") and fix it up when it reaches the top.

Tie-breaking (documented, deterministic): the most frequent pair wins; among pairs
with equal counts the smallest ``(left id, right id)`` wins.  Counts are the number
of adjacent positions holding the pair, overlaps included (``a a a`` holds ``(a, a)``
twice), exactly what a brute-force recount reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from heapq import heapify, heappop, heappush

from glassgpt.progress import task

Pair = tuple[int, int]


def learn_merges(chunk_counts: Mapping[bytes, int], num_merges: int, progress: bool = False) -> list[Pair]:
    """Learn up to ``num_merges`` merges from ``{chunk bytes: frequency}``.

    Merge ``i`` creates id ``256 + i``.  Fewer merges come back when no adjacent pair
    is left (every chunk has become a single token).
    """
    words: list[list[int]] = []
    freqs: list[int] = []
    for chunk, freq in chunk_counts.items():
        if len(chunk) >= 2 and freq > 0:
            words.append(list(chunk))
            freqs.append(freq)

    counts: dict[Pair, int] = {}
    where: dict[Pair, set[int]] = {}
    for idx, word in enumerate(words):
        freq = freqs[idx]
        for pair in zip(word, word[1:]):
            counts[pair] = counts.get(pair, 0) + freq
            if pair in where:
                where[pair].add(idx)
            else:
                where[pair] = {idx}

    heap = [(-count, pair) for pair, count in counts.items()]
    heapify(heap)

    merges: list[Pair] = []
    with task("learning merges", num_merges, enabled=progress) as bar:
        while len(merges) < num_merges and heap:
            neg, pair = heappop(heap)
            count = counts.get(pair, 0)
            if count != -neg:  # a stale entry: the count shrank since it was pushed
                if 0 < count < -neg:
                    heappush(heap, (-count, pair))
                continue
            new = 256 + len(merges)
            merges.append(pair)
            del counts[pair]
            for grown in _merge_everywhere(pair, new, words, freqs, counts, where, where.pop(pair)):
                heappush(heap, (-counts[grown], grown))
            if len(merges) % 64 == 0:  # every 64 merges: the bar costs nothing measurable
                bar.update(len(merges))
        bar.update(len(merges))
    return merges


def _merge_everywhere(pair, new, words, freqs, counts, where, indices) -> set[Pair]:
    """Replace ``a b`` by ``new`` in every word listed in ``indices`` (some may no longer
    hold the pair) and update ``counts`` / ``where`` for the pairs next to each
    occurrence.  Returns the new pairs (all contain ``new``): their counts grew."""
    a, b = pair
    grown: set[Pair] = set()
    for idx in indices:
        word = words[idx]
        n = len(word)
        freq = freqs[idx]
        out: list[int] = []
        i = 0
        while i < n:
            if word[i] == a and i + 1 < n and word[i + 1] == b:
                if out:  # left neighbour x: (x, a) disappears, (x, new) appears
                    old = (word[i - 1], a)
                    if old != pair:
                        counts[old] -= freq
                    born = (out[-1], new)
                    counts[born] = counts.get(born, 0) + freq
                    grown.add(born)
                    where.setdefault(born, set()).add(idx)
                if i + 2 < n:  # right neighbour y, unless it starts the next match
                    y = word[i + 2]
                    if not (y == a and i + 3 < n and word[i + 3] == b):
                        old = (b, y)
                        if old != pair:
                            counts[old] -= freq
                        born = (new, y)
                        counts[born] = counts.get(born, 0) + freq
                        grown.add(born)
                        where.setdefault(born, set()).add(idx)
                out.append(new)
                i += 2
            else:
                out.append(word[i])
                i += 1
        if len(out) != n:
            words[idx] = out
    return grown


def learn_merges_by_recount(chunks: Iterable[Sequence[int]], num_merges: int) -> list[Pair]:
    """The textbook algorithm, slow and plain, to read and to check ``learn_merges`` against.

    ``chunks`` are the pre-split chunks, repeats included, each as its bytes (or a list of
    ids).  After every merge, every adjacent pair of every chunk is counted again: no
    deduplication, no incremental counts, no heap.  Gives the same merges as
    ``learn_merges`` of the chunks' counts, ties included."""
    words = [list(chunk) for chunk in chunks]
    merges: list[Pair] = []
    while len(merges) < num_merges:
        counts = Counter(pair for word in words for pair in zip(word, word[1:]))
        if not counts:  # every chunk is a single token
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))  # most frequent; ties: smallest pair
        new = 256 + len(merges)
        merges.append(best)
        words = [_merge_pair(word, best, new) for word in words]
    return merges


def _merge_pair(word: list[int], pair: Pair, new: int) -> list[int]:
    """``word`` with every occurrence of ``pair`` replaced by ``new``, left to right
    (``a a a`` with pair ``(a, a)`` becomes ``new a``)."""
    out: list[int] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out
