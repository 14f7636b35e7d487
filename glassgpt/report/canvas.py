"""The machinery every figure shares: the registry, an Agg canvas under the house style,
atomic PNG saving, and small plotting helpers.

matplotlib is imported only when a figure is drawn, through its object-oriented API on
the Agg canvas (no pyplot, no global state).  A figure is exactly ``figsize × DPI`` pixels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassgpt import plotting
from glassgpt.plotting import matplotlib as require_matplotlib
from glassgpt.report import theme
from glassgpt.report.rundata import RunData


@dataclass
class FigureSpec:
    name: str
    draw: Callable
    caption: str


@dataclass
class DrawnFigure:
    name: str
    path: Path | None
    note: str = ""


FIGURES: dict[str, FigureSpec] = {}


def style() -> dict:
    """The matplotlib rc settings of ``theme`` with its colour cycle (use inside ``rc_context``)."""
    return {**theme.MPL_STYLE, "axes.prop_cycle": require_matplotlib().cycler(color=theme.CYCLE)}


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    """A report figure (the theme's resolution, constrained layout) and its axes."""
    return plotting.new_figure(width, height, nrows, ncols, dpi=theme.DPI, layout="constrained", **kw)


def save_png(fig, path: Path) -> Path:
    return plotting.save_png(fig, path, dpi=theme.DPI)


def figure(name: str, caption: str):
    """Register ``draw(run, **kw) -> Figure`` as the figure ``name``; the registered function
    is ``(run_dir_or_RunData, out_dir=None, **kw) -> path``."""

    def wrap(draw):
        @functools.wraps(draw)
        def make(run, out_dir: str | Path | None = None, **kw) -> Path:
            run = run if isinstance(run, RunData) else RunData(run)
            matplotlib = require_matplotlib()
            with matplotlib.rc_context(style()):
                fig = draw(run, **kw)
                return save_png(fig, Path(out_dir or run.plots_dir) / f"{name}.png")

        FIGURES[name] = FigureSpec(name, make, caption)
        return make

    return wrap


# ---- helpers ---------------------------------------------------------------------------------
def window_mean(steps: np.ndarray, values: np.ndarray, span: float = 50) -> np.ndarray:
    """Trailing mean over the records of the last ``span`` steps (inclusive)."""
    if not len(values):
        return values
    start = np.searchsorted(steps, steps - span, side="right")
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(len(values))
    return (csum[idx + 1] - csum[start]) / (idx + 1 - start)


def uniform_line(ax, vocab: int) -> None:
    if vocab > 1:
        ax.axhline(
            math.log(vocab),
            color=theme.MUTED,
            ls="--",
            lw=1.2,
            label=f"uniform guess  ln {vocab} = {math.log(vocab):.3f}",
        )


def floats(values) -> np.ndarray:
    """A JSON list of numbers (null for a diverged value) as floats (nan)."""
    return np.asarray([np.nan if v is None else v for v in values], dtype=float)


def step_ticks(ax, steps: list, axis: str = "x", n: int = 8) -> None:
    idx = np.unique(np.linspace(0, len(steps) - 1, min(n, len(steps))).round().astype(int))
    (ax.set_xticks if axis == "x" else ax.set_yticks)(idx, [str(steps[i]) for i in idx])


def token_label(tokenizer, idx: int) -> str:
    s = tokenizer.token_str(idx)
    return s.replace(" ", "␣") if s.strip() or not s else "␣" * len(s)
