"""A tokenizer as a notebook shows it: a table of its tokens (``Tokenizer._repr_html_``).

The first ``head`` ids and the last ``tail`` ones, each with its printable text and its UTF-8
bytes, then the special tokens; a vocabulary of 100,000 ids stays a short table.
"""

from __future__ import annotations

from glassgpt.htmltable import Markup, cell, table

#: rows shown from the start and from the end of the vocabulary
HEAD, TAIL = 24, 8


def _row(tokenizer, idx: int) -> tuple[object, ...]:
    raw = tokenizer.token_bytes(idx)
    return idx, Markup(f"<code>{cell(tokenizer.token_str(idx))}</code>"), raw.hex(" ") or "(none)"


def token_table(tokenizer, head: int = HEAD, tail: int = TAIL) -> str:
    """The HTML of a tokenizer's (``tokenizers.base.Tokenizer``) table: a caption (the kind, the vocabulary size), the first ``head``
    and last ``tail`` ids, and the special tokens."""
    specials = set(tokenizer.special_tokens.values())
    ids = [i for i in range(tokenizer.vocab_size) if i not in specials and tokenizer.is_assigned(i)]
    shown = ids if len(ids) <= head + tail else ids[:head] + ids[-tail:]
    rows: list[tuple[object, ...]] = []
    for position, idx in enumerate(shown):
        if position == head and len(ids) > head + tail:
            rows.append(("…", f"{len(ids) - head - tail:,} more", ""))
        rows.append(_row(tokenizer, idx))
    rows += [(idx, Markup(f"<code>{cell(text)}</code>"), "special") for text, idx in tokenizer.special_tokens.items()]
    caption = f"{type(tokenizer).__name__} ({tokenizer.type}): {tokenizer.vocab_size:,} ids" + (
        f", {len(specials)} special" if specials else ""
    )
    return f"<div><strong>{cell(caption)}</strong>{table(rows, ('id', 'token', 'UTF-8 bytes'))}</div>"
