"""How many CPU threads torch and NumPy's BLAS use, set for a scope and restored after it.

``with thread_scope(n): ...`` runs its body with ``n`` torch threads and ``n`` BLAS threads
(NumPy's matrix products, which the glass engine uses), then puts both counts back, so
nothing a training run does to the thread settings outlives it.

On a machine whose cores are busy with other work, a multi-threaded BLAS spins waiting
for its helper threads and a small matmul can become 100x slower; tests and benchmarks
pin the count.  BLAS threads are set with ``threadpoolctl`` when it is installed, otherwise
through OpenBLAS's own ``*_set_num_threads`` via ctypes; other BLAS libraries are left
alone (the functions return None).  Setting ``OPENBLAS_NUM_THREADS`` before NumPy is
imported works too.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError

#: more threads than this many per usable core only adds waiting (5,000 hung; 100,000 crashed torch)
THREADS_PER_CPU = 4

_PREFIXES = ("scipy_openblas_", "openblas_", "scipy_openblas64_", "openblas64_")


@functools.lru_cache(maxsize=1)
def _openblas():
    """(get, set) functions of the OpenBLAS that NumPy loaded, or None."""
    libs = Path(np.__file__).parent.parent / "numpy.libs"
    for path in sorted(libs.glob("*openblas*")) if libs.is_dir() else []:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    return get, put
    return None


def get_blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        fns = _openblas()
        return fns[0]() if fns else None
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return counts[0] if counts else None


def set_blas_threads(n: int) -> int | None:
    """Use ``n`` BLAS threads from now on; returns the previous count (None if unknown)."""
    old = get_blas_threads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        fns = _openblas()
        if fns:
            fns[1](int(n))
        return old
    threadpool_limits(limits=int(n), user_api="blas")
    return old


@contextlib.contextmanager
def blas_threads(n: int):
    """``with blas_threads(1): ...`` then back to the previous count."""
    old = set_blas_threads(n)
    try:
        yield
    finally:
        if old is not None:
            set_blas_threads(old)


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_thread_count(n: int | None, name: str = "--threads") -> None:
    """Refuse a negative count, or more than ``THREADS_PER_CPU`` threads per usable core."""
    if n is None or n == 0:
        return
    limit = THREADS_PER_CPU * usable_cpus()
    if n < 0 or n > limit:
        raise ConfigError(f"{name} {n} is not a usable thread count: this machine offers {usable_cpus()} CPU "
                          f"core(s), so use 1 to {limit} (or 0 for torch's default).")


@contextlib.contextmanager
def thread_scope(n: int | None):
    """Use ``n`` torch threads and ``n`` BLAS threads inside the ``with`` block, then restore
    both.  ``n`` of 0 or None changes nothing; an absurd ``n`` is refused (``check_thread_count``)."""
    check_thread_count(n)
    if not n:
        yield
        return
    old_torch = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        with blas_threads(int(n)):
            yield
    finally:
        torch.set_num_threads(old_torch)
