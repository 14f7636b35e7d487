"""The live figure of glassgpt.train(..., live=True): a callback that redraws at most once per
interval and once at the end, and that a terminal never sees (it gets the progress line)."""

from __future__ import annotations

import sys
import types

from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.notebook import LiveFigure, in_notebook
from glassgpt.training.callbacks import RunStart

PNG = b"\x89PNG\r\n\x1a\n"


def test_it_redraws_at_most_once_per_interval_and_once_at_the_end(tmp_path):
    now, shown = [0.0], []
    live = LiveFigure(interval=3.0, show=shown.append, clock=lambda: now[0])
    live.start(RunStart(tmp_path, tiny_config(max_steps=60), 0, False))
    for step, t in zip(range(10, 70, 10), (0.0, 1.0, 2.9, 3.0, 4.0, 6.5)):
        now[0] = t
        live.record({"step": step, "train_loss": 4.0 - step / 100, "lr": 1e-3, "grad_norm": 0.5})
    assert live.draws == 3  # at 0.0, 3.0 and 6.5 seconds
    live.end({"final": {"split": "val", "loss": 3.21}})
    assert live.draws == 4 and len(shown) == 4 and all(png.startswith(PNG) for png in shown)
    assert [s for s, _ in live.series["train_loss"]] == [10, 20, 30, 40, 50, 60]  # every record, drawn or not
    assert "step 60 of 60" in live.caption() and "final val loss 3.2100" in live.caption()


def test_a_resumed_runs_figure_starts_with_the_steps_it_trained_before(tmp_path):
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=20, save_every=10), text=TINY_TEXT, report=False)
    shown = []
    live = LiveFigure(show=shown.append)
    glassgpt.train(out, resume=True, overrides={"train.max_steps": 30}, report=False, callbacks=[live])
    assert [s for s, _ in live.series["train_loss"]] == [5, 10, 15, 20, 25, 30]
    assert [s for s, _ in live.series["val_loss"]] == [20]  # eval_every=20 in the tiny config
    assert shown and live.draws == len(shown)


def test_outside_a_notebook_live_falls_back_to_the_progress_line(tmp_path, capsys):
    glassgpt.train(tmp_path / "quiet", config=tiny_config(max_steps=5), text=TINY_TEXT, report=False)
    assert "trained to step 5" not in capsys.readouterr().err
    result = glassgpt.train(tmp_path / "live", config=tiny_config(max_steps=5), text=TINY_TEXT, report=False, live=True)
    assert result.steps == 5 and "trained to step 5" in capsys.readouterr().err


def test_only_a_jupyter_kernel_counts_as_a_notebook(monkeypatch):
    assert not in_notebook()  # pytest
    shell = types.SimpleNamespace()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert not in_notebook()  # a terminal IPython has no kernel
    shell.kernel = object()
    assert in_notebook()
