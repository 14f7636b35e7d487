"""The one place glassgpt imports matplotlib.

matplotlib is imported only when a figure is drawn (it costs a noticeable fraction of a
second), always through its object-oriented API on an Agg canvas — no pyplot, no global
figure state, no display needed.  Without matplotlib, ``matplotlib()`` raises one clear
sentence; callers that can do without figures (the run report) catch it.
"""

from __future__ import annotations

import os
from pathlib import Path

from glassgpt.errors import GlassError
from glassgpt.fileio import atomic_write


def matplotlib():
    """The ``matplotlib`` module with the parts glassgpt uses loaded: ``figure``, ``lines``,
    ``backends.backend_agg`` and ``cycler``."""
    try:
        import matplotlib as mpl
        import matplotlib.figure
        import matplotlib.lines
        from matplotlib.backends import backend_agg  # noqa: F401
    except ImportError:
        raise GlassError("plots need matplotlib, which is not installed; run `pip install matplotlib`.") from None
    return mpl


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1, dpi: int = 100, **kw):
    """``(figure, axes)``: a Figure on an Agg canvas and its axes (``squeeze`` etc. as ``subplots``)."""
    mpl = matplotlib()
    fig = mpl.figure.Figure(
        figsize=(width, height), dpi=dpi, **({"layout": kw.pop("layout")} if "layout" in kw else {})
    )
    mpl.backends.backend_agg.FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kw)


def save_png(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` atomically as a PNG at ``path``."""
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    return path
