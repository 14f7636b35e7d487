"""`glassgpt demo`: the listing, running one demo with --plot, and an unknown name (exit 2)."""

from glassgpt.cli import main
from glassgpt.demos import list_demos

OURS = [
    "attention",
    "chain-rule",
    "cross-entropy",
    "gradient-descent",
    "loss-gradient",
    "neuron",
    "residual-flow",
    "softmax",
]


def test_listing(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    # a demo's line starts "  NAME  summary"; a long summary wraps onto lines indented further
    lines = [line.split() for line in out.splitlines()[1:] if line.strip() and line[2] != " "]
    assert all(len(line) <= 80 for line in out.splitlines())
    names = [parts[0] for parts in lines]
    assert set(OURS) <= set(names)
    assert names == [n for n, _ in list_demos()]
    assert all(len(parts) > 1 for parts in lines)  # every demo has its one-line summary


def test_run_one_with_plot(tmp_path, capsys):
    out_dir = tmp_path / "figs" / "nested"
    assert main(["demo", "gradient-descent", "--plot", "--out", str(out_dir)]) == 0
    assert "2.4967" in capsys.readouterr().out
    png = out_dir / "gradient-descent.png"
    assert png.stat().st_size > 1000


def test_unknown_name_exits_2(capsys):
    assert main(["demo", "no-such-demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown demo 'no-such-demo'")
    assert "softmax" in err and "Traceback" not in err


def test_summaries_fit_one_line():
    for name, summary in list_demos():
        if name in OURS:
            assert "\n" not in summary and len(summary) < 120, name
