"""Atomic file writes and the safetensors/JSON helpers every writer uses.

A write goes to a temporary name in the same folder, is flushed and fsynced, then
renamed over the target, so a reader (or a process killed mid-write) only ever sees
the old file or the new one, never half of one.  No pickle anywhere.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from safetensors.torch import load_file, save_file

from .errors import FileError


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a directory entry (the rename itself) to disk where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then fsync and rename ``tmp_path`` onto ``path``.

    The file gets the usual permissions (0666 minus the umask), not mkstemp's private 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # after write: some writers replace the file
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """Read a JSON file, turning a missing or corrupted file into one clear sentence."""
    path = Path(path)
    if not path.is_file():
        raise FileError(f"{what} {path} is missing.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileError(f"{what} {path} is corrupted ({exc.__class__.__name__}); restore or recreate it.") from None


def save_tensors(path: str | os.PathLike, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """Atomically write a dict of torch tensors as safetensors."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_tensors(path: str | os.PathLike, what: str = "weights file") -> dict:
    """Load safetensors into CPU torch tensors, with a clear error when missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileError(f"{what} {path} is missing.")
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises several types for a damaged header/body
        raise FileError(f"{what} {path} is corrupted or not a safetensors file ({exc}).") from None


def check_writable(path: str | os.PathLike, what: str, advice: str, folder: bool = True) -> None:
    """Refuse, before any work is done, a destination that cannot be written: ``path`` itself
    (a folder, or a file with ``folder=False``), or where it does not exist yet the nearest
    existing folder above it.  Nothing is created.  Raises one sentence:
    "WHAT PATH cannot be written: REASON; ADVICE."."""
    path = Path(path)
    if path.exists():
        if folder != path.is_dir():
            kind = "a file, not a folder" if folder else "a folder, not a file"
            raise FileError(f"{what} {path} is {kind}; {advice}.")
        target = path if folder else path.parent
    else:
        target = path.parent
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        raise FileError(f"{what} {path} cannot be created: {target} is a file, not a folder; {advice}.")
    kwargs = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    if not os.access(target, os.W_OK | os.X_OK, **kwargs):
        raise FileError(f"{what} {path} cannot be written: {target} is read-only; {advice}.")
