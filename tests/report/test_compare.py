"""``glassgpt plot DIR --compare A B ...``: any number of runs in one picture, one column each,
every row of curves on one y range shared by its columns."""

from __future__ import annotations

import json

import pytest
from support.wordlists import make_words, train_rung, write_words

from glassgpt.cli import main
from glassgpt.report import compare_runs

pytest.importorskip("matplotlib")

#: the MLP without its fixes, with them, and with BatchNorm: three different loss scales
VARIANTS = {
    "naive": ["model.batchnorm=false", "model.small_output=false", "model.hidden_init=randn"],
    "fixes": ["model.batchnorm=false", "model.small_output=true", "model.hidden_init=kaiming"],
    "bn": [],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    data = write_words(root, make_words(200))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GLASSGPT_REPORT", "0")
        for name, settings in VARIANTS.items():
            extra = ["--diagnostics-every", "10", "--max-steps", "60", "--set", "model.n_hidden=48"]
            for setting in settings:
                extra += ["--set", setting]
            assert train_rung("mlp", data, root / name, *extra) == 0
    return root


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _losses(run) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r[key] for r in records for key in ("train_loss", "val_loss") if isinstance(r.get(key), float)]


def test_three_runs_share_one_y_range_per_row(runs, tmp_path):
    result = compare_runs(runs / "naive", runs / "fixes", runs / "bn", out_dir=tmp_path)
    assert result.path == tmp_path / "compare-fixes-bn.png"
    assert _png_size(result.path) == (2100, 1600)  # three 7-inch columns
    assert result.runs == ("naive", "fixes", "bn")
    assert set(result.ylims) == {"loss", "activations", "update ratio"}
    for quantity, limits in result.ylims.items():
        assert len(limits) == 3 and None not in limits, quantity  # every run has every row's data
        assert len(set(limits)) == 1, (quantity, limits)  # one range for the whole row
    # the shared loss range holds every run's curve: the naive one starts far above the others
    lo, hi = result.ylims["loss"][0]
    every = {name: _losses(runs / name) for name in VARIANTS}
    assert lo <= min(min(v) for v in every.values()) and hi >= max(max(v) for v in every.values())
    assert max(every["naive"]) > max(every["bn"]) + 0.5  # a range drawn from one run would cut the other off


def test_a_run_without_diagnostics_leaves_its_panels_empty_and_the_rest_shared(runs, tmp_path):
    bare = tmp_path / "bare"
    assert train_rung("mlp", runs / "words.txt", bare, "--max-steps", "20", "--set", "model.n_hidden=48") == 0
    result = compare_runs(runs / "naive", bare, runs / "bn", out_dir=tmp_path)
    assert result.ylims["activations"][1] is None and result.ylims["update ratio"][1] is None
    assert result.ylims["activations"][0] == result.ylims["activations"][2] is not None
    assert len(set(result.ylims["loss"])) == 1


def test_plot_compare_takes_any_number_of_runs(runs, tmp_path, capsys):
    argv = ["plot", str(runs / "bn"), "--compare", str(runs / "naive"), str(runs / "fixes"), "--out", str(tmp_path)]
    assert main(argv) == 0
    out = tmp_path / "compare-naive-fixes.png"
    assert capsys.readouterr().out.strip() == f"wrote {out}" and _png_size(out) == (2100, 1600)
    assert main(["plot", str(runs / "bn"), "--compare", str(runs / "naive"), "--out", str(tmp_path)]) == 0
    assert _png_size(tmp_path / "compare-naive.png") == (1400, 1600)  # two runs, as before
    too_many = ["plot", str(runs / "bn"), "--compare", *[str(runs / "naive")] * 8, "--out", str(tmp_path)]
    assert main(too_many) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "at most 8 runs in one picture, got 9" in err
    assert main(["plot", str(runs / "bn"), "--compare", str(runs / "naive"), str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.glob("compare-*")) == ["compare-naive-fixes.png", "compare-naive.png"]
