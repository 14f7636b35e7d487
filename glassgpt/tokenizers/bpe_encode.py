"""Encoding one chunk with BPE ranks: the reference algorithm, in plain Python.

A *rank* is a token's id, and a lower rank was learned earlier.  To encode a chunk
(the bytes of one regex match):

1. if the whole chunk is a token, that token is the answer;
2. otherwise start from single bytes and repeatedly merge the adjacent pair whose
   concatenation is the token of lowest rank (the leftmost one on a tie), until no
   adjacent pair forms a token.

This is exactly what tiktoken does, so a tokenizer imported from tiktoken gives
tiktoken's ids.  For a tokenizer trained here it gives the ids of replaying the
learned merges in order.  Short chunks use a plain scan (quadratic, but chunks are a
handful of bytes); long ones (``--pattern none`` makes the whole text one chunk) use
a heap of candidate pairs over a linked list of parts, ``n log n``.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

#: chunks longer than this use the heap algorithm
LONG_CHUNK = 48


def bpe_chunk(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """The ids of one chunk under ``ranks`` (bytes -> rank; every single byte present)."""
    rank = ranks.get(piece)
    if rank is not None:
        return [rank]
    if len(piece) > LONG_CHUNK:
        return _bpe_long(piece, ranks)
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best_rank, best_i = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_rank, best_i = rank, i
        if best_rank is None:
            break
        parts[best_i : best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return [ranks[p] for p in parts]


def _bpe_long(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """Same result as the scan above, for long chunks.

    Parts are identified by their start offset; ``end[s]`` is where part ``s`` ends and
    ``prev[s]`` the start of the part before it.  A heap entry ``(rank, s, e)`` says
    "the part at ``s`` and the part after it span ``piece[s:e]``, a token of this
    rank".  It is still valid when ``s`` is still a part start and the part after it
    still ends at ``e`` (parts only ever grow, so nothing else can have changed).
    Popping ``(rank, s)`` in heap order merges the lowest rank, leftmost first.
    """
    n = len(piece)
    end = list(range(1, n + 1))  # end[s] for a live part start s
    prev = list(range(-1, n - 1))
    alive = [True] * n
    heap = []
    for s in range(n - 1):
        rank = ranks.get(piece[s : s + 2])
        if rank is not None:
            heap.append((rank, s, s + 2))
    heapify(heap)
    while heap:
        rank, s, e = heappop(heap)
        mid = end[s] if alive[s] else n
        if not alive[s] or mid >= n or end[mid] != e:
            continue
        alive[mid] = False  # merge the part at mid into the part at s
        end[s] = e
        if e < n:
            prev[e] = s
            r = ranks.get(piece[s : end[e]])
            if r is not None:
                heappush(heap, (r, s, end[e]))
        p = prev[s]
        if p >= 0:
            r = ranks.get(piece[p:e])
            if r is not None:
                heappush(heap, (r, p, e))
    out = []
    s = 0
    while s < n:
        out.append(ranks[piece[s : end[s]]])
        s = end[s]
    return out
