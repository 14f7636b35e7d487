"""Packed documents as the model reads them: which document each token belongs to, and its
position inside that document.

A window may hold the end of one document and the start of the next.  With
``train.doc_mask`` the model attends only within a document and positions restart at 0 at
each, so every document is computed exactly as if it were alone in its window.
"""

from __future__ import annotations

import numpy as np


def document_segments(x: np.ndarray, eot_id: int) -> np.ndarray:
    """Segment ids of a window (..., T): the number of end-of-text tokens up to and including
    each position, so an end-of-text token opens the next document."""
    return np.cumsum(np.asarray(x) == eot_id, axis=-1)


def document_positions(segments: np.ndarray) -> np.ndarray:
    """Each token's position inside its segment (0 at a segment's first token), for (..., T) ids."""
    segments = np.asarray(segments)
    t = np.broadcast_to(np.arange(segments.shape[-1]), segments.shape)
    first = np.ones(segments.shape, dtype=bool)
    first[..., 1:] = segments[..., 1:] != segments[..., :-1]
    starts = np.maximum.accumulate(np.where(first, t, 0), axis=-1)
    return t - starts
