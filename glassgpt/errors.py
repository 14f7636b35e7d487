"""Every error a user can cause is a GlassError: one sentence, what is wrong and what to do.

The CLI prints ``error: <message>`` and exits with status 2 for any of these; library
callers can catch the precise subclass.
"""


class GlassError(Exception):
    """Base class: a problem with the user's input, files or settings (never a bug)."""


class ConfigError(GlassError):
    """An unknown key, preset or an impossible value in the configuration."""


class DataError(GlassError):
    """Missing, empty, binary or non-UTF-8 text, or a corpus too short to train on."""


class TokenizerError(GlassError):
    """Text or ids the tokenizer cannot handle, or a broken tokenizer file."""


class FileError(GlassError):
    """A file that is missing, unreadable or corrupted (raised by ``glassgpt.fileio``)."""


class RunDirError(GlassError):
    """A run directory that is missing, partial, corrupted, or holds a different run."""


class InteropError(GlassError):
    """A model or tokenizer another library cannot represent, or a broken model folder."""


class DiskError(FileError):
    """A write the file system refused for lack of room or permission to change anything:
    the disk is full (ENOSPC), the user's quota is spent (EDQUOT) or the file system is
    read-only (EROFS).  ``path`` is the file being written, ``reason`` one of
    ``"full"``, ``"quota"``, ``"read-only"``."""

    def __init__(self, message: str, path: str = "", reason: str = "full"):
        super().__init__(message)
        self.path, self.reason = path, reason


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and its noun, singular or plural, for messages: "1 token", "2 tokens", "1,024 tokens"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
