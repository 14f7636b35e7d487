"""Every figure renders to a readable PNG of the expected size; missing data is skipped, not a crash."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.image import imread  # noqa: E402

from glassgpt.cli import main  # noqa: E402
from glassgpt.errors import ConfigError, GlassError  # noqa: E402
from glassgpt.report import FIGURES, RunData, render  # noqa: E402
from glassgpt.report.figures import histogram_sets, window_mean  # noqa: E402
from glassgpt.training.lr_finder import find_lr  # noqa: E402

#: figures whose size does not depend on the run: name -> (width, height) in pixels at DPI 100
FIXED_SIZES = {
    "overview": (1100, 760),
    "loss": (800, 440),
    "grad-norm": (800, 400),
    "lr-finder": (800, 420),
    "grad-components": (700, 400),
    "update-ratio": (800, 420),
    "histograms": (1100, 420),
    "embeddings": (800, 640),
}
DIAGNOSTIC_FIGURES = {"grad-flow", "update-ratio", "histograms"}
#: the makemore ladder's figures (tests/makemore/test_ladder_report.py): a GPT run skips them
LADDER_ONLY = {"weight-gradients", "dead-neurons", "bigram-table"}
#: the curves of the stages after fine-tuning (reward, accuracy, KL, entropy): a pretraining run skips it
STAGE_ONLY = {"stage"}


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_every_figure_renders_a_readable_png(report_run, tmp_path):
    results = render(report_run, "all", out_dir=tmp_path)
    assert [r.name for r in results] == list(FIGURES)
    skipped = {r.name: r.note for r in results if r.path is None}
    assert set(skipped) == LADDER_ONLY | STAGE_ONLY and all(n.startswith("skipped:") for n in skipped.values()), skipped
    for r in results:
        if r.name in LADDER_ONLY | STAGE_ONLY:
            continue
        assert r.path == tmp_path / f"{r.name}.png" and r.path.stat().st_size > 2000, r.name
        image = imread(r.path)  # matplotlib reads it back
        h, w = image.shape[:2]
        assert (w, h) == png_size(r.path)
        assert image.std() > 0.01, f"{r.name} is blank"
        if r.name in FIXED_SIZES:
            assert (w, h) == FIXED_SIZES[r.name], r.name
        else:
            assert w >= 300 and h >= 200, r.name


def test_each_figure_function_returns_its_path(report_run, tmp_path):
    run = RunData(report_run)
    for name in ("loss", "grad-flow"):
        assert FIGURES[name].draw(run, tmp_path) == tmp_path / f"{name}.png"


def test_training_wrote_every_figure_it_had_data_for(report_run):
    plots = {p.stem for p in (report_run / "plots").glob("*.png")}
    # the sweep ran after training, so only lr-finder is missing from the end-of-run set
    assert plots == set(FIGURES) - {"lr-finder"} - LADDER_ONLY - STAGE_ONLY


def test_the_stage_figure_draws_the_curves_a_run_after_fine_tuning_logs(run_copy, tmp_path):
    rng = np.random.default_rng(0)
    records = [
        {
            "step": s,
            "train_loss": 0.1,
            "reward": 0.2 + s / 200,
            "accuracy": 0.2 + s / 200,
            "kl": s / 1000,
            "entropy": 1.0 - s / 200 + 0.01 * rng.normal(),
        }
        for s in range(10, 110, 10)
    ]
    (run_copy / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = render(run_copy, "stage", out_dir=tmp_path)[0]
    assert result.path == tmp_path / "stage.png" and png_size(result.path) == (800, 780)  # three panels


def test_figures_without_their_data_are_skipped_with_a_note(run_copy, tmp_path):
    (run_copy / "diagnostics.jsonl").unlink()
    (run_copy / "lr_finder.json").unlink()
    names = sorted(DIAGNOSTIC_FIGURES | {"lr-finder", "grad-components", "overview"})
    results = {n: render(run_copy, n, out_dir=tmp_path)[0] for n in names}
    for name in DIAGNOSTIC_FIGURES | {"lr-finder"}:
        assert results[name].path is None and results[name].note.startswith("skipped:"), name
        assert not (tmp_path / f"{name}.png").exists()
    assert "--diagnostics-every" in results["grad-flow"].note
    assert "lr-finder --run" in results["lr-finder"].note
    # the component bars fall back to the final weights when no diagnostics were recorded
    assert results["grad-components"].path is not None and results["overview"].path is not None

    (run_copy / "metrics.jsonl").write_text("")
    for name in ("overview", "loss", "grad-norm"):
        (r,) = render(run_copy, name, out_dir=tmp_path / "empty")
        assert r.path is None and "metrics" in r.note, name


def test_attention_for_a_prompt_and_bad_prompts(report_run, tmp_path):
    path = FIGURES["attention"].draw(report_run, tmp_path, prompt="the lazy dog")
    assert imread(path).shape[0] > 200
    with pytest.raises(ConfigError):
        FIGURES["attention"].draw(report_run, tmp_path, prompt="")
    with pytest.raises(GlassError):  # a character the char tokenizer never saw
        FIGURES["attention"].draw(report_run, tmp_path, prompt="ZZZ€")


def test_missing_matplotlib_is_one_clear_sentence(report_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(GlassError, match="matplotlib"):
        render(report_run, "loss", out_dir=tmp_path)
    assert main(["plot", str(report_run), "loss", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: plots need matplotlib") and err.count("\n") == 1


def test_window_mean_is_a_trailing_mean_over_steps():
    steps = np.array([10, 20, 30, 40, 50, 60], float)
    values = np.array([6, 5, 4, 3, 2, 1], float)
    got = window_mean(steps, values, span=30)  # the last 3 logged steps
    assert np.allclose(got, [6, 5.5, 5, 4, 3, 2])
    assert len(window_mean(np.zeros(0), np.zeros(0))) == 0


def test_histogram_layouts():
    hist = {"counts": [1, 2, 3], "edges": [0.0, 1.0, 2.0, 3.0]}
    as_list = histogram_sets([{"activation": hist, "gradient": hist}, {"activation": hist, "gradient": None}])
    assert [label for label, *_ in as_list["activations"]] == ["block 0", "block 1"]
    assert len(as_list["gradients"]) == 1
    by_kind = histogram_sets({"activations": [hist, hist], "gradients": {"0": hist}})
    assert len(by_kind["activations"]) == 2 and by_kind["gradients"][0][0] == "block 0"
    assert histogram_sets({"0": {"activation": {"counts": [1], "edges": [0.0]}}}) == {}  # malformed: ignored


def test_lr_finder_sweep(report_run, make_config, report_text):
    stored = json.loads((report_run / "lr_finder.json").read_text())
    assert len(stored["lrs"]) == len(stored["losses"]) == len(stored["smoothed"]) == 8
    assert np.allclose(np.diff(np.log(stored["lrs"])), np.log(1e4) / 7)  # log-spaced from 1e-4 to 1
    assert stored["suggested_lr"] == pytest.approx(stored["min_loss_lr"] / 10)
    # a sweep far past any sensible learning rate stops early once the loss blows up
    result = find_lr(make_config(), start=1e-3, end=1e6, steps=40, text=report_text)
    assert result["stopped_early"] and len(result["lrs"]) < 40
    assert max(result["lrs"]) < 1e6
    with pytest.raises(ConfigError):
        find_lr(report_run, start=1.0, end=0.1)
    with pytest.raises(ConfigError):
        find_lr(report_run, steps=1)


def test_plot_cli(report_run, run_copy, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["plot", str(report_run), "loss", "--out", str(out)]) == 0
    assert (out / "loss.png").is_file()
    assert main(["plot", str(report_run), "attention", "--prompt", "quick fox", "--out", str(out)]) == 0
    assert main(["plot", str(run_copy), "lr-finder", "--run", "--lr-steps", "5"]) == 0
    assert len(json.loads((run_copy / "lr_finder.json").read_text())["lrs"]) == 5
    assert "suggested lr" in capsys.readouterr().out

    (run_copy / "diagnostics.jsonl").unlink()
    assert main(["plot", str(run_copy), "grad-flow"]) == 2  # asked for by name, but no data
    assert "cannot draw grad-flow" in capsys.readouterr().err
    assert main(["plot", str(run_copy), "loss", "--run"]) == 2  # --run is for lr-finder only


def test_plot_and_report_refuse_missing_or_partial_run_dirs(tmp_path, report_run, capsys):
    missing = tmp_path / "nope"
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text((report_run / "config.json").read_text())
    for argv in (
        ["plot", str(missing)],
        ["plot", str(partial), "loss"],
        ["report", str(missing)],
        ["report", str(partial)],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["plot", str(report_run), "no-such-figure"])


def test_cli_figure_names_match_the_library():
    from glassgpt.cli.plot import FIGURE_NAMES

    assert FIGURE_NAMES == list(FIGURES)
