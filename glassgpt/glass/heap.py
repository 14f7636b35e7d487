"""Keep the memory a training step frees, so the next step does not fault it back in.

Every glass step allocates its activations afresh (NumPy arrays of 0.1-2 MB each, tens of MB
in all) and frees them when the backward pass is done.  glibc's ``malloc`` then sees a large
free block at the top of its heap and gives it back to the kernel (``M_TRIM_THRESHOLD``, by
default a few MB), and hands out arrays above its ``M_MMAP_THRESHOLD`` as fresh mappings that
``free`` unmaps.  Either way the next step touches new pages: about 5,000 page faults and
12-17 ms of kernel time per step of the ``baby`` model (an 80 ms step), measured by
``benchmarks/glass_vs_torch.py``'s ``glass_faults_per_step``.

``keep_freed_memory()`` raises both thresholds once for the process: arrays up to
``MMAP_BYTES`` come from the heap, and up to ``TRIM_BYTES`` of freed heap stay mapped for the
next step.  The peak resident memory does not grow (a page stays mapped only if a step
already touched it); the memory a finished run leaves mapped does, by at most ``TRIM_BYTES``.

A process-wide setting (``malloc`` has no getter, so it cannot be put back): the one
exception to the engines' rule of leaving the process as they found it, harmless to results
(no number changes, only where freed memory waits).  Off glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import platform

#: glibc's names for the two settings (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: arrays up to this size come from the heap (glibc's ceiling for this setting on 64-bit)
MMAP_BYTES = 32 * 2**20
#: freed heap kept mapped, above the working set of the models the glass engine trains
TRIM_BYTES = 256 * 2**20


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds (see the module docstring); False where the C
    library is not glibc or refuses."""
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
