"""The dead-neuron image as ``diagnostics.jsonl`` stores it: examples (rows) × a tanh layer's
units (columns), a bit set where |tanh| > ``DEAD``, one hex string per row (``numpy.packbits``).

``makemore.probe`` packs it while training; the figures unpack it from the records, without
loading the model (so NumPy only).
"""

from __future__ import annotations

import numpy as np

#: |tanh| above this is a set bit: drawn white in the dead-neuron image
DEAD = 0.99


def pack_rows(bits: np.ndarray) -> list[str]:
    """A boolean (rows, cols) image as one hex string per row."""
    return [bytes(row).hex() for row in np.packbits(bits.astype(np.uint8), axis=1)]


def unpack_rows(rows: list[str], cols: int) -> np.ndarray:
    """The boolean (rows, cols) image of ``pack_rows``."""
    packed = np.array([list(bytes.fromhex(r)) for r in rows], dtype=np.uint8).reshape(len(rows), -1)
    return np.unpackbits(packed, axis=1)[:, :cols].astype(bool)
