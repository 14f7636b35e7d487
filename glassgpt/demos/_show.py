"""Printing and figure helpers shared by the demos (tables, headings, saving a PNG).

Tables go through ``rich``: colours and box lines in a terminal, plain aligned text
when the output is piped (rich notices by itself).  Output fits the terminal's width (or
``$COLUMNS``, or 80 columns when piped): paragraphs wrap, and a table too wide for it is
printed as several tables of consecutive columns, each repeating the first (label)
column, so no number is ever cut.  ``wide()`` lifts the limit (``glassgpt demo --wide``).
Figures come from ``glassgpt.plotting`` (matplotlib's object-oriented API on an Agg
canvas), so a demo without ``--plot`` never loads matplotlib.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from glassgpt import plotting
from glassgpt.console import console as console_for
from glassgpt.threads import thread_scope

#: no width limit (``glassgpt demo --wide``): set for the duration of ``wide()``
_WIDE = contextvars.ContextVar("wide", default=False)
WIDE_COLUMNS = 10_000


@contextlib.contextmanager
def wide(on: bool = True):
    """Inside the block, tables keep all their columns and paragraphs do not wrap."""
    token = _WIDE.set(on)
    try:
        yield
    finally:
        _WIDE.reset(token)


def console() -> Console:
    """A console bound to the current ``sys.stdout`` (so pytest's capture sees it), as wide as
    the terminal (``$COLUMNS`` or 80 when piped), or unlimited inside ``wide()``."""
    if _WIDE.get():
        return console_for(WIDE_COLUMNS, soft_wrap=True)
    return console_for()


def heading(text: str) -> None:
    """A section title: bold in a terminal, underlined with '=' when piped."""
    con = console()
    if con.is_terminal:
        con.print()
        con.print(f"[bold cyan]{text}[/]")
    else:
        con.print()
        con.print(text, markup=False)
        con.print("=" * len(text), markup=False)


def say(text: str = "") -> None:
    """One paragraph of explanation (no markup interpretation: brackets print as-is)."""
    console().print(text, markup=False)


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    title: str | None = None,
    align: str | None = None,
) -> None:
    """Print ``rows`` under ``columns``.

    ``align`` is one letter per column, ``l`` or ``r`` (default: first column left,
    the rest right, which suits a label followed by numbers).  Cells are printed with
    ``str()``; format numbers before passing them so the printed digits are deliberate.
    """
    con = console()
    if align is None:
        align = "l" + "r" * (len(columns) - 1)
    rows = [[str(c) for c in row] for row in rows]
    groups = _column_groups(con, columns, align, rows)
    for n, group in enumerate(groups):
        con.print()
        label = title if n == 0 else ""
        if len(groups) > 1:
            span = f"column {group[1] + 1}" if len(group) == 2 else f"columns {group[1] + 1}–{group[-1] + 1}"
            label += f"{' ' if label else ''}({span} of {len(columns)})"
        if label:
            con.print(label, markup=False, style="bold" if con.is_terminal else None)
        t = _table(con, [columns[i] for i in group], [align[i] for i in group], [[r[i] for i in group] for r in rows])
        needed = _needed(con, t)
        if needed > con.width:  # one label and one column wider than the screen: never cut a number
            con.width = needed
        con.print(t)


def _table(con: Console, columns: Sequence[str], align: Sequence[str], rows: list[list[str]]) -> Table:
    t = Table(
        box=box.SIMPLE_HEAD if con.is_terminal else box.ASCII2,
        show_edge=not con.is_terminal,
        header_style="bold" if con.is_terminal else "",
    )
    for name, a in zip(columns, align):
        t.add_column(name, justify="right" if a == "r" else "left", no_wrap=True)
    for row in rows:
        t.add_row(*row)
    return t


def _needed(con: Console, t: Table) -> int:
    return Measurement.get(con, con.options.update(max_width=WIDE_COLUMNS), t).maximum


def _column_groups(con: Console, columns: Sequence[str], align: str, rows: list[list[str]]) -> list[list[int]]:
    """Column indices of each printed table: all of them when they fit the console, else
    runs of consecutive columns that each fit beside the first column."""
    every = list(range(len(columns)))
    if _needed(con, _table(con, columns, align, rows)) <= con.width or len(columns) <= 2:
        return [every]
    groups, current = [], [0]
    for i in every[1:]:
        trial = current + [i]
        fits = (
            _needed(
                con,
                _table(
                    con, [columns[j] for j in trial], [align[j] for j in trial], [[r[j] for j in trial] for r in rows]
                ),
            )
            <= con.width
        )
        if fits or len(current) == 1:
            current = trial
        else:
            groups.append(current)
            current = [0, i]
    groups.append(current)
    return groups


def num(x: float, digits: int = 4, sign: bool = False) -> str:
    """Fixed-point text of ``x``; ``sign`` forces a leading '+' on positives."""
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (7.0, 4.5)):
    """(matplotlib module, figure, axes) on an Agg canvas."""
    fig, axes = plotting.new_figure(figsize[0], figsize[1], nrows, ncols)
    return plotting.matplotlib(), fig, axes


def save_figure(fig, out_dir: str | os.PathLike, name: str) -> str:
    """Write ``fig`` atomically as ``out_dir/name.png`` and return the path."""
    fig.tight_layout()
    path = plotting.save_png(fig, Path(out_dir) / f"{name}.png", dpi=110)
    say(f"figure written to {path}")
    return str(path)


def one_torch_thread():
    """Run tiny torch models on one thread (faster than fighting over cores), then restore."""
    return thread_scope(1)
