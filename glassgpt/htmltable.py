"""HTML tables for the rich displays of a notebook (a run's card, a tokenizer's token table).

Every cell is escaped here, so text from a run or a vocabulary never becomes markup; a cell
that is already HTML is passed as ``Markup``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence


class Markup(str):
    """A cell that is HTML already (a link, a ``<code>`` span) and is not escaped again."""


def cell(value: object) -> str:
    """``value`` as the text of a cell: ``Markup`` as it is, anything else escaped."""
    return value if isinstance(value, Markup) else html.escape(str(value), quote=True)


def table(rows: Iterable[Sequence[object]], header: Sequence[str] = ()) -> str:
    """A ``<table>`` of ``rows`` (each a sequence of cells) under an optional ``header`` row."""
    head = "<tr>" + "".join(f"<th>{cell(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table style="border-collapse:collapse">{head}{body}</table>'
