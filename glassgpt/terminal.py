"""What reaches a person's terminal: control characters made visible, and the width to fit.

A byte-level model can sample ESC, BEL or a right-to-left override; printed raw, those
bytes move the cursor, ring the bell or reorder what the reader sees.  ``printable``
writes every such character as a visible escape (``\\x1b``, ``\\u202e``) and keeps
newlines and tabs.  Programs reading a pipe get the raw text: ``for_stream`` escapes
only when the stream is a terminal.

``unescape`` reads ``\\n``-style escapes typed on a command line.

``width`` is the number of columns output should fit: the terminal's own width, else
``$COLUMNS``, else 80.  The rich console that tables are printed through is
``glassgpt.console``; this module does not import rich, so ``glassgpt train`` never loads it
when its progress is off.
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata

#: bidirectional overrides and isolates: they reorder the text around them on screen
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_KEEP = {"\n", "\t"}
DEFAULT_WIDTH = 80


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def is_control(ch: str) -> bool:
    """True for a character a terminal would act on instead of showing: C0/C1 controls and
    DEL (but not newline or tab), lone surrogates and bidi overrides."""
    if ch in _KEEP:
        return False
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI


def printable(text: str) -> str:
    """``text`` with every control character written as a visible escape (see ``is_control``)."""
    if text.isprintable() and not _BIDI.intersection(text):
        return text
    return "".join(_visible(ch) if is_control(ch) else ch for ch in text)


def unescape(text: str) -> str:
    """Backslash escapes typed on a command line (``\\n``, ``\\t``, ``\\x1b``, ``\\u00e9``,
    ``\\\\``) turned into the characters they stand for; other text is unchanged.  A shell
    passes ``--stop "\\n\\n"`` as backslash-n twice, which is almost never what was meant."""
    if "\\" not in text:
        return text
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{text!r} has an incomplete escape ({exc.reason}); write a backslash itself as \\\\."
        ) from None


def is_terminal(stream=None) -> bool:
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def for_stream(text: str, stream=None, raw: bool = False) -> str:
    """``text`` as it should be written to ``stream``: escaped on a terminal unless ``raw``."""
    return text if raw or not is_terminal(stream) else printable(text)


def width(stream=None) -> int:
    """Columns to fit: the terminal's width, else ``$COLUMNS``, else 80."""
    stream = sys.stdout if stream is None else stream
    if is_terminal(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            pass
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns if is_terminal(stream) else DEFAULT_WIDTH
