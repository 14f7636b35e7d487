"""Read the user's own text safely: ``read_text(path) -> str`` and ``describe_text(text)``.

``path`` is either

* one file of UTF-8 text (any name), or
* a folder: every ``*.txt`` file below it (recursively; the suffix in any letter case;
  files and folders whose name starts with "." are skipped, symlinked folders are not
  followed), in the order of their relative paths (``a/x.txt`` < ``b.txt`` compares
  "a/x.txt" with "b.txt"), each with its trailing line breaks removed, joined with one
  blank line (``"\\n\\n"``), the whole ending with ``"\\n"``.  Empty or whitespace-only
  files in a folder are skipped.

Normalisation, the same for every file: a leading UTF-8 byte-order mark is removed and
line ends become ``"\\n"`` (``"\\r\\n"`` and a lone ``"\\r"`` both).  Nothing else changes.
Files are only opened for reading.

Every problem is a ``DataError`` with one sentence that names the path: missing path,
something that is neither a regular file nor a folder, a file that cannot be read
(permissions), UTF-16/UTF-32 text (a byte-order mark, or NUL in every other byte), a binary
file (it contains NUL bytes), bytes that are not UTF-8 (with the byte offset and the line),
an empty or whitespace-only file, a folder without usable ``.txt`` files.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Callable
from pathlib import Path

from glassgpt.errors import DataError

__all__ = ["read_text", "read_folder_texts", "describe_text", "decode_text", "check_bytes", "find_files"]


def check_bytes(
    data: bytes, name: str = "the text", offset: int = 0, lines_before: Callable[[], int] | None = None
) -> None:
    """Refuse UTF-16/UTF-32 text and binary data (a NUL byte), each in one sentence that names
    ``name``; ``offset`` and ``lines_before`` as in ``decode_text``."""
    wide = _wide_encoding(data)
    if wide:
        encoding, reason = wide
        raise DataError(
            f"{name} looks like {encoding} text ({reason}), not UTF-8; convert it first, e.g. with: "
            f"iconv -f {encoding} -t UTF-8 IN > OUT."
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"{name} looks like a binary file (it contains a NUL byte {_where(data, nul, offset, lines_before)}); "
            "give a plain UTF-8 text file."
        )


def decode_text(
    data: bytes, name: str = "the text", offset: int = 0, lines_before: Callable[[], int] | None = None
) -> str:
    """UTF-8 bytes → normalised str (BOM removed, line ends ``"\\n"``); DataError if the bytes
    are UTF-16/UTF-32, binary or not UTF-8.  ``name`` is used in the message.  ``offset`` is
    where ``data`` starts inside a larger file: messages give file offsets, and a BOM is only
    removed at 0.  Messages name the line too: counted in ``data`` when it starts the file,
    else after ``lines_before()`` line breaks (called only to word an error)."""
    check_bytes(data, name, offset, lines_before)
    skip = len(codecs.BOM_UTF8) if offset == 0 and data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        bad = skip + e.start
        raise DataError(
            f"{name} is not valid UTF-8 (byte 0x{data[bad]:02x} {_where(data, bad, offset, lines_before)}); "
            "convert it to UTF-8 first, e.g. with: iconv -f latin1 -t utf-8 IN > OUT."
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _where(data: bytes, pos: int, offset: int, lines_before: Callable[[], int] | None) -> str:
    """Where byte ``pos`` of ``data`` is: ``at byte offset N, on line L`` (the line when known)."""
    where = f"at byte offset {offset + pos}"
    if offset and lines_before is None:
        return where
    line = (lines_before() if offset else 0) + data[:pos].count(b"\n") + 1
    return f"{where}, on line {line:,}"


def _wide_encoding(data: bytes) -> tuple[str, str] | None:
    """(encoding, reason) for UTF-32/UTF-16 text: a byte-order mark, or (without one) a NUL
    in every other byte of the start, as ASCII text saved as UTF-16 has; else None."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32", "it starts with a UTF-32 byte-order mark"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16", "it starts with a UTF-16 byte-order mark"
    head = data[:4096]
    half = len(head) // 2
    if half >= 2:
        even, odd = head[0 : 2 * half : 2].count(0), head[1 : 2 * half : 2].count(0)
        if max(even, odd) >= 0.9 * half and min(even, odd) <= 0.1 * half:
            return "UTF-16", "every other byte is NUL"
    return None


def _read_file(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except PermissionError:
        raise DataError(f"cannot read {path}: permission denied; check the file's permissions.") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; check that it is a readable text file.") from None
    return decode_text(data, str(path))


def _is_blank(text: str) -> bool:
    return not text.strip()


def find_files(root: Path, suffixes: tuple[str, ...] = (".txt",)) -> list[Path]:
    """Every non-hidden file under ``root`` whose name ends in one of ``suffixes`` (any
    letter case), sorted by relative POSIX path."""

    def fail(err: OSError) -> None:
        raise DataError(f"cannot read the folder {err.filename or root}: {err.strerror or err}; check its permissions.")

    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=fail, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if fn.startswith(".") or not fn.lower().endswith(suffixes):
                continue
            p = Path(dirpath) / fn
            if p.is_file():
                found.append((p.relative_to(root).as_posix(), p))
    found.sort(key=lambda item: item[0])
    return [p for _, p in found]


def read_text(path: str | os.PathLike) -> str:
    """The text of a UTF-8 file, or of all ``.txt`` files in a folder (see the module doc)."""
    p = Path(os.path.expanduser(os.fspath(path)))
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise DataError(
            f"{p} does not exist; give the path of a UTF-8 text file or of a folder of .txt files."
        ) from None
    except PermissionError:
        raise DataError(f"cannot reach {p}: permission denied; check the permissions of its folders.") from None
    except OSError as e:
        raise DataError(f"cannot open {p}: {e.strerror or e}; give the path of a UTF-8 text file.") from None

    if stat.S_ISREG(mode):
        text = _read_file(p)
        if _is_blank(text):
            what = "empty" if not text else "only whitespace"
            raise DataError(f"{p} is {what}; give a text file with some text in it.")
        return text

    if stat.S_ISDIR(mode):
        return "\n\n".join(t.rstrip("\n") for t in read_folder_texts(p)) + "\n"

    raise DataError(f"{p} is not a regular file or a folder; give the path of a UTF-8 text file.")


def read_folder_texts(folder: str | os.PathLike) -> list[str]:
    """The text of every non-blank ``.txt`` file under ``folder``, in the order ``read_text`` joins them."""
    p = Path(folder)
    files = find_files(p)
    if not files:
        raise DataError(f"the folder {p} contains no .txt files; put your text in files ending in .txt.")
    texts = [t for t in (_read_file(f) for f in files) if not _is_blank(t)]
    if not texts:
        raise DataError(f"every .txt file in the folder {p} is empty; add some text to them.")
    return texts


def describe_text(text: str) -> dict[str, int]:
    """Sizes for summaries: ``characters``, ``distinct_characters``, ``lines`` (line breaks,
    plus one if the text does not end with one), ``utf8_bytes``."""
    lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    return {
        "characters": len(text),
        "distinct_characters": len(set(text)),
        "lines": lines,
        "utf8_bytes": len(text.encode("utf-8")),
    }
