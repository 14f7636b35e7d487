"""Atomic file writes and the safetensors/JSON helpers every writer uses.

A write goes to a temporary name in the same folder, is flushed and fsynced, then
renamed over the target, so a reader (or a process killed mid-write) only ever sees
the old file or the new one, never half of one.  No pickle anywhere.

A write the file system refuses because the disk is full, the quota is spent or the
file system is read-only raises ``DiskError`` (one sentence), after removing the
temporary file: the target keeps its old contents and no half-written file is left.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glassgpt.errors import DiskError, FileError

#: errno -> (DiskError.reason, what the sentence says)
DISK_ERRNOS = {
    errno.ENOSPC: ("full", "the disk is full"),
    errno.EDQUOT: ("quota", "the disk quota is used up"),
    errno.EROFS: ("read-only", "the file system is read-only"),
}


def error_number(exc: BaseException) -> int | None:
    """The errno behind an exception: ``OSError.errno``, or the one safetensors' Rust writer
    names in its message (it raises ``SafetensorError``, not ``OSError``: "... (os error 28)",
    "Os { code: 28, ... }", or just the system's text for it)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    text = str(exc)
    found = re.search(r"\(os error (\d+)\)|\bcode: (\d+)", text)
    if found:
        return int(found.group(1) or found.group(2))
    return next((number for number in DISK_ERRNOS if os.strerror(number) in text), None)


def _no_room_left(path: str | os.PathLike) -> bool:
    folder = Path(path).parent
    try:
        return shutil.disk_usage(folder).free == 0
    except OSError:
        return False


def disk_error(exc: BaseException, path: str | os.PathLike) -> DiskError | None:
    """``exc`` as a ``DiskError`` when it says the disk is full, over quota or read-only, else None.
    A short write reported without an errno (NumPy's "N requested and M written") counts as a
    full disk when the disk has no room left."""
    number = error_number(exc)
    if number is None and isinstance(exc, OSError) and _no_room_left(path):
        number = errno.ENOSPC
    if number not in DISK_ERRNOS:
        return None
    reason, text = DISK_ERRNOS[number]
    return DiskError(f"cannot write {path}: {text}.", str(path), reason)


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


#: the suffix of ``atomic_write``'s temporary files (``.<name>.<random>.tmp`` beside the target)
TMP_SUFFIX = ".tmp"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then fsync and rename ``tmp_path`` onto ``path``.

    The file gets the usual permissions (0666 minus the umask), not mkstemp's private 0600."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # after write: some writers replace the file
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        full = disk_error(exc, path)
        if full is not None:
            raise full from None
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy ``src`` to a new file ``dst`` atomically (an independent file, never a link: changing
    one never changes the other)."""
    atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))


def append_text(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` to a file (created if missing).  A full or read-only disk raises
    ``DiskError`` after cutting the file back to its old length: no half line is left behind."""
    data = memoryview(text.encode("utf-8"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise (disk_error(exc, path) or exc) from None
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(fd, data) :]
        except OSError as exc:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
            raise (disk_error(exc, path) or exc) from None
    finally:
        os.close(fd)


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


def json_object_line(raw: bytes, fail: Callable[[str], Exception]) -> dict:
    """Parse one JSONL line that must hold a JSON object; ``fail(what)`` builds the error
    raised otherwise (``what`` is e.g. "is not valid JSON (…)")."""
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise fail("is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise fail(f"is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise fail("is not a JSON object")
    return data


def save_tensors(path: str | os.PathLike, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """Atomically write a dict of torch tensors as safetensors."""
    from safetensors.torch import save_file  # torch: only what reads or writes tensors pays for it

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_tensors(path: str | os.PathLike, what: str = "weights file") -> dict:
    """Load safetensors into CPU torch tensors, with a clear error when missing or corrupt."""
    from safetensors.torch import load_file  # torch: only what reads or writes tensors pays for it

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
