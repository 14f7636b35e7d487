"""The ladder's lessons as pictures and tables: its figures, two runs side by side, the report of a
word-list run, and `gradcheck DIR` walking the MLP's backward pass one intermediate at a time."""

from __future__ import annotations

import json

import pytest
from support.wordlists import make_words, train_rung, write_words

from glassgpt.cli import main
from glassgpt.makemore.backprop import ORDER
from glassgpt.report import FIGURES, render, write_report

pytest.importorskip("matplotlib")

LADDER_FIGURES = ("weight-gradients", "dead-neurons", "bigram-table")


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ladder-report")
    data = write_words(root, make_words(200))
    diagnostics = ["--diagnostics-every", "10", "--max-steps", "60", "--set", "model.n_hidden=48"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GLASSGPT_REPORT", "0")
        assert (
            train_rung(
                "mlp",
                data,
                root / "naive",
                *diagnostics,
                "--set",
                "model.batchnorm=false",
                "--set",
                "model.small_output=false",
                "--set",
                "model.hidden_init=randn",
            )
            == 0
        )
        assert train_rung("mlp", data, root / "bn", *diagnostics) == 0
        assert train_rung("bigram", data, root / "bigram") == 0
        assert train_rung("gpt", data, root / "gpt", "--max-steps", "20") == 0
    return root


def test_a_ladder_run_draws_its_figures(runs, tmp_path):
    results = {r.name: r for r in render(runs / "bn", "all", out_dir=tmp_path)}
    for name in (
        "overview",
        "loss",
        "update-ratio",
        "histograms",
        "grad-flow",
        "embeddings",
        "weight-gradients",
        "dead-neurons",
    ):
        assert results[name].path is not None and results[name].path.stat().st_size > 2000, (name, results[name].note)
    assert results["attention"].note == "skipped: the mlp model has no attention"
    assert "no bigram table" in results["bigram-table"].note
    w, h = _png_size(results["dead-neurons"].path)
    assert w > 2 * h  # one tanh layer: the first and the latest step side by side


def test_the_bigram_draws_its_table_and_the_gpt_skips_the_ladders_figures(runs, tmp_path):
    (table,) = render(runs / "bigram", "bigram-table", out_dir=tmp_path)
    assert table.path is not None and _png_size(table.path)[0] > 500
    (embeddings,) = render(runs / "bigram", "embeddings", out_dir=tmp_path)
    assert "no embedding table" in embeddings.note
    for name in LADDER_FIGURES:
        (result,) = render(runs / "gpt", name, out_dir=tmp_path / "gpt")
        assert result.path is None and result.note.startswith("skipped:"), name
    (emb,) = render(runs / "gpt", "embeddings", out_dir=tmp_path / "gpt")
    assert emb.path is not None


def test_plot_compare_puts_two_runs_side_by_side(runs, tmp_path, capsys):
    assert main(["plot", str(runs / "naive"), "--compare", str(runs / "bn"), "--out", str(tmp_path)]) == 0
    out = tmp_path / "compare-bn.png"
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert _png_size(out) == (1400, 1600)
    assert main(["plot", str(runs / "naive"), "loss", "--compare", str(runs / "bn")]) == 2
    assert "draws its own picture" in capsys.readouterr().err
    assert main(["plot", str(runs / "naive"), "--compare", str(tmp_path / "nothing")]) == 2


def test_the_report_of_a_word_list_run(runs):
    result = write_report(runs / "bn", figures=False)
    page = result.path.read_text()
    for split in ("train", "dev", "test"):
        assert f"{split} loss (nats / character" in page
    assert "this run learned a word list" in page
    assert "hidden" in page and "bn" in page  # the parameter table names the layers


def test_gradcheck_walks_the_lectures_intermediates_in_80_columns(runs, capsys):
    assert main(["gradcheck", str(runs / "bn")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    names = [line.split()[0] for line in lines if line.split() and line.split()[0] in ORDER]
    assert names == list(ORDER)  # b1 too: the bias-free layer gets a zero bias, checked like the lecture's
    rows = {line.split()[0]: line.split() for line in lines if line.split() and line.split()[0] in ORDER}
    assert all(r[3] == "ok" for r in rows.values()) and rows["logprobs"][2] == "yes"  # set directly: exact
    assert sum(1 for line in lines if line.startswith(("cross-entropy vs", "BatchNorm vs"))) == 4
    assert out.rstrip().endswith("matches autograd.")
    assert main(["gradcheck", str(runs / "bn"), "--dtype", "float32", "--batch-size", "8"]) == 0
    assert "on 8 training examples" in " ".join(capsys.readouterr().out.split())


def test_gradcheck_refuses_what_it_cannot_walk(runs, capsys):
    assert main(["gradcheck", str(runs / "naive")]) == 2
    assert "written for the MLP with BatchNorm" in capsys.readouterr().err
    assert main(["gradcheck", str(runs / "bigram")]) == 2
    assert "does not work on" in (err := capsys.readouterr().err) and "counting bigram" in err


def test_every_ladder_figure_is_registered_after_the_others():
    names = list(FIGURES)
    assert names[-len(LADDER_FIGURES) :] == list(LADDER_FIGURES)
    assert json.dumps(names)
