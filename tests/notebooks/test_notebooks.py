"""The notebooks of notebooks/ run top to bottom in a real Jupyter kernel, with their default
settings, and fail on any error: a cell that raises, or an output that cannot be shown.
They are kept as jupytext percent files, so git never holds an output."""

from __future__ import annotations

import subprocess

import pytest
from support.notebooks import NOTEBOOKS, ROOT, execute

pytest.importorskip("jupytext", reason="the notebook extra is not installed (pip install -e '.[notebook]')")
pytest.importorskip("nbclient", reason="the notebook extra is not installed (pip install -e '.[notebook]')")

EXPECTED = [
    "01_loss_and_gradient",
    "02_micrograd",
    "03_makemore_ladder",
    "04_nursery_gpt",
    "05_shakespeare",
    "06_four_stages",
]


def test_the_series_is_complete_and_each_one_is_a_notebook_without_outputs():
    import jupytext

    assert [p.stem for p in NOTEBOOKS] == EXPECTED
    for path in NOTEBOOKS:
        notebook = jupytext.read(path)
        assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
        assert notebook.metadata["kernelspec"]["name"] == "python3"
        assert all(not cell.get("outputs") for cell in notebook.cells)
    tracked = subprocess.run(["git", "ls-files", "notebooks"], cwd=ROOT, capture_output=True, text=True).stdout
    assert ".ipynb" not in tracked


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_top_to_bottom(path, tmp_path):
    notebook = execute(path, tmp_path, timeout_s=900)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code)
    shown = [o for cell in code for o in cell.outputs]
    assert any("image/png" in o.get("data", {}) for o in shown), "every notebook draws at least one figure"
