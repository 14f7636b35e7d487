"""The key/value cache that makes generation cost one position's work per new token.

A causal model never changes what it computed for earlier positions, so the keys and
values of every layer can be kept and only the new tokens run through the model.
``KVCache`` holds them in tensors allocated once, at the most positions the generation
will need, and fills them left to right::

    keys, values   (n_layer, B, H, max_len, D)   positions [0, length) are filled
    segments       (B, max_len) int64 or None    which segment (document, or padding)
                                                  each cached position belongs to

``GPT.forward(idx, kv_cache=cache)`` runs the tokens ``idx`` (B, T) as positions
``length … length+T-1``: every layer's attention appends its new keys and values through
``cache.layers[i].append`` and attends over everything cached so far, and once all
layers are done the model calls ``cache.advance(T)``.  Nothing is concatenated and nothing
is reallocated while generating.

Segments: a token attends only to cached positions of its own segment.  Generation uses
them for left-padded batches (padding is segment 0, the prompt and its continuation
segment 1), so a short prompt never reads its padding.  When a forward passes no segment
ids, its tokens continue each row's last segment.  A cache that never saw segment ids
tracks none and adds no mask at all.
"""

from __future__ import annotations

import torch

from glassgpt.errors import GlassError


class LayerKV:
    """One layer's view of a ``KVCache`` (made once per cache, so appending costs no lookups)."""

    __slots__ = ("cache", "keys", "values")

    def __init__(self, cache: KVCache, layer: int):
        self.cache = cache
        self.keys = cache.keys[layer]  # (B, H, max_len, D) views into the cache's storage
        self.values = cache.values[layer]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new keys and values (B, H, t, D) after the cached ones and return all of
        them, (B, H, length + t, D), as views of the preallocated storage."""
        start = self.cache.length
        end = start + k.size(2)
        self.keys[:, :, start:end] = k
        self.values[:, :, start:end] = v
        return self.keys[:, :, :end], self.values[:, :, :end]


class KVCache:
    """Keys and values of every layer for up to ``max_len`` positions of ``batch`` rows."""

    def __init__(
        self,
        n_layer: int,
        batch: int,
        n_head: int,
        head_dim: int,
        max_len: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        if min(n_layer, batch, n_head, head_dim, max_len) < 1:
            raise GlassError("a KV cache needs at least one layer, row, head, channel and position.")
        shape = (n_layer, batch, n_head, max_len, head_dim)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.batch, self.max_len = batch, max_len
        self.length = 0
        self.segments: torch.Tensor | None = None
        self.layers = tuple(LayerKV(self, i) for i in range(n_layer))

    def check_room(self, batch: int, t: int) -> None:
        """One clear error before ``t`` new positions of ``batch`` rows would not fit."""
        if batch != self.batch:
            raise GlassError(f"the KV cache holds {self.batch} rows but the input has {batch}.")
        if self.length + t > self.max_len:
            raise GlassError(
                f"the KV cache holds {self.max_len} positions; {self.length} are filled and {t} more do not fit."
            )

    def add_segments(self, segments: torch.Tensor | None, t: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Record the segment ids (B, t) of ``t`` new positions (None: they continue each row's
        last segment) and return (query ids (B, t), key ids (B, length + t)) for the attention
        mask, or None while the cache tracks no segments."""
        if segments is None:
            if self.segments is None:
                return None
            if self.length == 0:
                raise GlassError("the first tokens in a KV cache that tracks segments need segment ids.")
            segments = self.segments[:, self.length - 1 : self.length].expand(-1, t)
        elif self.segments is None:  # positions cached so far form segment 0
            self.segments = torch.zeros(self.batch, self.max_len, dtype=torch.long, device=self.keys.device)
        end = self.length + t
        self.segments[:, self.length : end] = segments
        return segments, self.segments[:, :end]

    def advance(self, t: int) -> None:
        """Mark ``t`` more positions as filled (the model calls this after its last layer)."""
        self.length += t

    def truncate(self, length: int) -> None:
        """Forget every position from ``length`` on (speculative decoding drops the guesses the
        large model rejected); the storage is kept and is overwritten by the next tokens."""
        if not 0 <= length <= self.length:
            raise GlassError(f"the KV cache holds {self.length} positions; it cannot be cut to {length}.")
        self.length = length

    def reset(self) -> None:
        """Forget every cached position (the storage is kept for reuse)."""
        self.length = 0
        self.segments = None
