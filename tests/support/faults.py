"""Fault injection for crash-point sweeps: count the file operations a block of code does,
and make the k-th one fail (raise, or end the process on the spot as ``kill -9`` would).

    with FileFaults() as ops:            # a dry run: how many operations, and which
        setup()
    for k in range(1, ops.count + 1):
        with FileFaults(fail_at=k, fail=simulated_kill):
            setup()                        # dies at operation k; then check what is on disk

The operations are the calls that change the file system or its durability: opening a
file for writing, creating a temporary file, writing, truncating, fsync, chmod, mkdir,
rename/replace, link, unlink, rmdir, ``shutil.rmtree``/``copyfile``, and safetensors' file
writer.  Only the outermost call counts (``shutil.rmtree``'s own unlinks are one operation),
and only in the thread that entered the block.  Used by the tests and by
``benchmarks/fault_sweep.py``; nothing in glassgpt calls it.
"""

from __future__ import annotations

import builtins
import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Callable

import safetensors.torch

#: (module, function) pairs whose calls are file operations
PATCHED = (
    (os, "open"),
    (os, "write"),
    (os, "pwrite"),
    (os, "ftruncate"),
    (os, "truncate"),
    (os, "fsync"),
    (os, "chmod"),
    (os, "mkdir"),
    (os, "makedirs"),
    (os, "replace"),
    (os, "rename"),
    (os, "link"),
    (os, "unlink"),
    (os, "remove"),
    (os, "rmdir"),
    (shutil, "rmtree"),
    (shutil, "copyfile"),
    (tempfile, "mkstemp"),
    (builtins, "open"),
    (safetensors.torch, "save_file"),  # what glassgpt.fileio writes tensors with (its Rust writer)
)
#: operations that take disk space (where a full disk shows up)
ALLOCATING = {
    "os.open",
    "os.write",
    "os.pwrite",
    "os.mkdir",
    "os.makedirs",
    "os.link",
    "shutil.copyfile",
    "tempfile.mkstemp",
    "builtins.open",
    "safetensors.save_file",
}


class SimulatedKill(BaseException):
    """Stands in for ``kill -9`` in-process: not an ``Exception``, so no error handler cleans up."""


def simulated_kill(op: str) -> BaseException:
    return SimulatedKill(op)


def disk_full(op: str) -> BaseException:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def hard_exit(op: str) -> BaseException:
    """End the process at once with status 137 (as after ``kill -9``): no cleanup, no flush."""
    os._exit(137)


def _mutates(name: str, args: tuple, kwargs: dict) -> bool:
    """Reads are not operations (``open`` for reading, ``os.open`` read-only), nor is creating
    a folder that exists (``Path.mkdir(exist_ok=True)`` tries it)."""
    if name in ("os.mkdir", "os.makedirs"):
        return not (args and os.path.isdir(args[0]))
    if name == "builtins.open":
        mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
        return any(c in mode for c in "wax+")
    if name == "os.open":
        flags = args[1] if len(args) > 1 else kwargs.get("flags", 0)
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
    return True


def _path_of(name: str, args: tuple, kwargs: dict) -> str | None:
    if name == "tempfile.mkstemp":
        folder = kwargs.get("dir", args[2] if len(args) > 2 else None)
        return os.fspath(folder) if folder is not None else tempfile.gettempdir()
    if args and isinstance(args[0], (str, os.PathLike)):
        return os.fspath(args[0])
    return None


def _under(path: str, root: str) -> bool:
    return os.path.realpath(path).startswith(root + os.sep) or os.path.realpath(path) == root


class FileFaults:
    """Counts the file operations inside the block; with ``fail_at=k`` the k-th raises
    ``fail(op)`` instead of running.  ``only`` limits both to some operations (e.g.
    ``ALLOCATING`` for a full-disk sweep), ``root`` to paths below a folder (operations on
    a file descriptor always count).  ``ops`` lists what was counted, e.g.
    ``"os.replace state.new"``."""

    def __init__(
        self,
        fail_at: int | None = None,
        fail: Callable[[str], BaseException] = simulated_kill,
        only: set[str] | None = None,
        root: str | os.PathLike | None = None,
    ):
        self.fail_at, self.fail, self.only = fail_at, fail, only
        self.root = os.path.realpath(root) if root is not None else None
        self.count, self.ops, self.failed = 0, [], None
        self._saved: list[tuple[object, str, Callable]] = []
        self._thread = threading.get_ident()
        self._depth = 0

    def _wrap(self, owner, attr: str, original: Callable) -> Callable:
        module = getattr(owner, "__name__", owner)
        name = f"{module.split('.')[0] if module.startswith('safetensors') else module.rsplit('.', 1)[-1]}.{attr}"

        def patched(*args, **kwargs):
            path = _path_of(name, args, kwargs)
            if (
                self._depth
                or threading.get_ident() != self._thread
                or not _mutates(name, args, kwargs)
                or (self.only is not None and name not in self.only)
                or (self.root is not None and path is not None and not _under(path, self.root))
            ):
                return original(*args, **kwargs)
            self.count += 1
            self.ops.append(f"{name} {os.path.basename(path) if path else ''}".strip())
            if self.count == self.fail_at:
                self.failed = self.ops[-1]
                raise self.fail(self.failed)
            self._depth += 1
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1

        return patched

    def __enter__(self) -> FileFaults:
        for owner, attr in PATCHED:
            original = getattr(owner, attr)
            self._saved.append((owner, attr, original))
            setattr(owner, attr, self._wrap(owner, attr, original))
        return self

    def __exit__(self, *exc) -> None:
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)
        self._saved.clear()
