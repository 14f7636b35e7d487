"""Running the notebooks of notebooks/ top to bottom, as Jupyter would (a real kernel).

The notebooks are jupytext percent files (``# %%`` cells); jupytext reads one into a notebook
and nbclient executes it in a fresh ``python3`` kernel of this environment, in a folder of the
caller's choosing, failing on the first cell that raises.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


class NotebookError(AssertionError):
    """A notebook showed an error: a cell raised, or an output could not be displayed."""


def errors(notebook) -> list[str]:
    """The errors a notebook's outputs show, including those IPython catches itself (an object
    whose display fails becomes an error output, not an exception of its cell)."""
    return [
        f"cell {i}: {o['ename']}: {o['evalue']}"
        for i, cell in enumerate(notebook.cells)
        for o in cell.get("outputs", [])
        if o["output_type"] == "error"
    ]


def execute(path: Path, cwd: Path, timeout_s: int = 600):
    """The notebook at ``path``, executed in ``cwd``; a cell that raises fails with its
    traceback, and so does an output that shows an error."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(path)
    env = {"GLASSGPT_REPORT": "1"}  # the test suite turns reports off; a notebook shows them
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(
            notebook, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if errors(notebook):
        raise NotebookError(f"{path.name}: " + "; ".join(errors(notebook)))
    return notebook
