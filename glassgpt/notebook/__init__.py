"""glassgpt in Jupyter: the live training figure (``glassgpt.train(..., live=True)``).

Runs and tokenizers display themselves as HTML in a notebook (``_repr_html_``: a run's card,
``rundir.card``; a token table, ``tokenizers.table``); this package holds what needs a
notebook to be running: ``in_notebook`` and the ``LiveFigure`` callback.
"""

from __future__ import annotations

import sys

from glassgpt.notebook.live import LiveFigure


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (a notebook, JupyterLab, VS Code, Colab) that can
    show images, rather than a terminal, a script or a terminal IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


__all__ = ["LiveFigure", "in_notebook"]
