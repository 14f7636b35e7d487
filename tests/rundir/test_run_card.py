"""A run in a notebook: TrainResult and LoadedRun show the run's card (config, final
evaluation, sample, loss figure, report link), every text from the run escaped."""

from __future__ import annotations

import json
import os

from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.rundir.card import run_card


def test_the_card_shows_the_settings_final_evaluation_sample_figure_and_report(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSGPT_REPORT", "1")
    out = tmp_path / "run"
    result = glassgpt.train(out, config=tiny_config(max_steps=10), text=TINY_TEXT)
    card = result._repr_html_()
    final = json.loads((out / "summary.json").read_text())["final"]
    assert f"<td>loss</td><td>{final['loss']:.4f}</td>" in card
    assert f"<td>perplexity</td><td>{final['perplexity']:.4f}</td>" in card
    assert "<td>model.n_layer</td><td>2</td>" in card and "<td>train.max_steps</td><td>10</td>" in card
    assert "trained 10 steps (max steps)" in card and "preset test" in card
    assert 'src="data:image/png;base64,' in card  # the loss figure the report drew
    assert f'<a href="{os.path.relpath(out / "report.html")}" target="_blank">the run report</a>' in card
    assert glassgpt.load_run(out)._repr_html_() == card


def test_text_from_the_run_is_escaped(tmp_path):
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=5), text=TINY_TEXT, report=False)
    summary = json.loads((out / "summary.json").read_text())
    summary["sample"] = "<script>alert('x')</script> & more"
    (out / "summary.json").write_text(json.dumps(summary))
    card = run_card(out)
    assert "<script>" not in card and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in card
    assert "report.html" not in card  # report=False: no report to link to


def test_a_run_still_training_shows_its_last_record(tmp_path):
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=10), text=TINY_TEXT, report=False)
    (out / "summary.json").unlink()
    assert "no summary yet: the last record is step 10" in run_card(out)
