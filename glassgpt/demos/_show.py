"""Printing and figure helpers shared by the demos (tables, headings, saving a PNG).

Tables go through ``rich``: colours and box lines in a terminal, plain aligned text
when the output is piped (rich notices by itself).  Figures come from ``glassgpt.plotting``
(matplotlib's object-oriented API on an Agg canvas), so a demo without ``--plot`` never
loads matplotlib.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from .. import plotting
from ..threads import thread_scope


def console() -> Console:
    """A console bound to the current ``sys.stdout`` (so pytest's capture sees it).

    When piped, the width is set wide enough that no table cell is ever truncated.
    """
    con = Console(highlight=False, soft_wrap=True)
    if not con.is_terminal:
        con.width = 200
    return con


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
    t = Table(
        title=title,
        box=box.SIMPLE_HEAD if con.is_terminal else box.ASCII2,
        title_justify="left",
        show_edge=not con.is_terminal,
        header_style="bold" if con.is_terminal else "",
    )
    for name, a in zip(columns, align):
        t.add_column(name, justify="right" if a == "r" else "left", no_wrap=True)
    for row in rows:
        t.add_row(*(str(c) for c in row))
    needed = Measurement.get(con, con.options.update(max_width=10_000), t).maximum
    if needed > con.width:  # never squeeze numbers into "…": let a narrow terminal wrap instead
        con.width = needed
    con.print()
    con.print(t)


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
