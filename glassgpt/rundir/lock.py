"""One writer per run directory: an exclusive lock every command that changes a run holds.

``train`` (new, ``--resume``, ``--overwrite``) and any later writer (export, finetune) take
the lock with ``writer_lock(run_dir, command)`` before they change anything; a second
writer is refused at once with one sentence naming the holder (PID, host, command).
Readers (``sample``, ``eval``, ``explain``, ``report``, ``plot``) take no lock: every file
they read is replaced atomically, so they keep working while a run trains.

The lock is ``fcntl.flock`` on ``RUN/.glassgpt.lock``.  The kernel drops a flock when
its process dies, however it dies (``kill -9`` included), so a lock can never go stale:
the holder details written into the file are only read while the lock is really held,
and a free lock is simply taken over.  The file is never deleted or renamed (a waiting
process would otherwise lock a different inode), and it is opened close-on-exec, so a
child process never inherits the lock.  POSIX only (Linux, macOS; NFS through the
kernel's lock emulation).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from glassgpt.errors import RunDirError
from glassgpt.rundir.layout import LOCK


class RunInUseError(RunDirError):
    """Another process holds the run directory's writer lock."""


class WriterLock:
    """A held writer lock; ``release()`` (or leaving ``writer_lock``'s block) frees it."""

    def __init__(self, run_dir: Path, fd: int):
        self.run_dir, self._fd = run_dir, fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:  # no details left behind for the next contender to mistake for its holder's
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing the only descriptor drops the flock

    def __del__(self):
        self.release()


class NoLock:
    """What a process that never writes the run holds (the ranks other than 0 of a distributed run)."""

    held = False

    def release(self) -> None:
        pass


def holder(run_dir: str | Path) -> dict:
    """The details the current holder wrote into the lock file ({} when there are none)."""
    try:
        return json.loads((Path(run_dir) / LOCK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _current(info: dict) -> bool:
    """Whether ``info`` names a live process (on another host: whether it names one at all)."""
    if not info.get("pid"):
        return False
    if info.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(info["pid"]), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, OverflowError):
        return True
    return True


def _describe(info: dict) -> str:
    if not info.get("pid"):
        return "another glassgpt process"
    since = f", since {info['started']}" if info.get("started") else ""
    return (
        f"another glassgpt process ({info.get('command') or 'a writer'}, PID {info['pid']} "
        f"on host {info.get('host', '?')}{since})"
    )


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        raise RunDirError(
            f"cannot lock {path.parent} for writing ({exc.strerror}); free space, fix its permissions "
            "or choose another --out."
        ) from None


def acquire(run_dir: str | Path, command: str = "train") -> WriterLock:
    """Take the writer lock of ``run_dir`` (the folder must exist) or raise ``RunInUseError``."""
    run_dir = Path(run_dir)
    path = run_dir / LOCK
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunDirError(f"cannot lock {run_dir} for writing ({exc.strerror}).") from None
        info = holder(run_dir)
        for _ in range(20):  # the holder writes its details just after locking (over a killed writer's)
            if _current(info):
                break
            time.sleep(0.025)
            info = holder(run_dir)
        raise RunInUseError(
            f"{run_dir} is in use by {_describe(info if _current(info) else {})}; wait for it to finish or stop it, "
            "then run this command again."
        ) from None
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    try:  # in place (never a rename: the lock belongs to this inode); best effort on a full disk
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
    except OSError:
        pass
    except BaseException:  # interrupted before the caller got the lock: do not leave it held
        os.close(fd)
        raise
    return WriterLock(run_dir, fd)


@contextlib.contextmanager
def writer_lock(run_dir: str | Path, command: str = "train"):
    """``with writer_lock(run_dir, "export"):`` holds the run's writer lock for the block."""
    lock = acquire(run_dir, command)
    try:
        yield lock
    finally:
        lock.release()
