"""In a real Jupyter kernel: glassgpt.train(..., live=True) shows one figure that it updates in
place (not a new image per redraw), and the run it returns shows itself as its card."""

from __future__ import annotations

import json

import pytest
from support.tinyrun import TINY_TEXT

nbformat = pytest.importorskip("nbformat", reason="the notebook extra is not installed (pip install -e '.[notebook]')")
nbclient = pytest.importorskip("nbclient", reason="the notebook extra is not installed (pip install -e '.[notebook]')")

CELL = """
import glassgpt
from glassgpt.config import RunConfig
from glassgpt.notebook import live

live.INTERVAL_S = 0.0  # redraw at every record, so the one output is updated many times
settings = {{"preset": "test", "model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "model.block_size": 16,
            "train.batch_size": 4, "train.max_steps": 20, "train.log_every": 2, "train.eval_every": 10,
            "data.corpus": "", "data.tokenizer": "char", "data.val_fraction": 0.1}}
result = glassgpt.train({out!r}, config=RunConfig().updated(settings), text={text!r}, report=False, live=True)
result
"""


def test_one_figure_updated_in_place_and_the_run_as_its_card(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSGPT_REPORT", "0")
    out = tmp_path / "run"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL.format(out=str(out), text=TINY_TEXT))]
    updates = []

    class Counting(nbclient.NotebookClient):
        def _update_display_id(self, display_id, msg):
            updates.append(display_id)
            return super()._update_display_id(display_id, msg)

    Counting(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    images = [o for o in outputs if o["output_type"] == "display_data" and "image/png" in o["data"]]
    assert len(images) == 1 and len(updates) >= 10 and len(set(updates)) == 1
    (card,) = [o["data"]["text/html"] for o in outputs if o["output_type"] == "execute_result"]
    summary = json.loads((out / "summary.json").read_text())
    assert f"{summary['final']['loss']:.4f}" in card and "trained 20 steps (max steps)" in card
