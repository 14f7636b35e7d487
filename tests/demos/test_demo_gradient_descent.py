"""docs/curriculum.md, A6: gradient descent on (w - 3)^2, ascent vs descent, the learning-rate table."""

import pytest

from glassgpt.demos import gradient_descent as gd

PNG = b"\x89PNG\r\n\x1a\n"

SOURCE = [  # step, w, L, grad
    (0, 0.0000, 9.0000, -6.0000),
    (1, 0.6000, 5.7600, -4.8000),
    (2, 1.0800, 3.6864, -3.8400),
    (3, 1.4640, 2.3593, -3.0720),
    (4, 1.7712, 1.5099, -2.4576),
    (5, 2.0170, 0.9664, -1.9661),
    (6, 2.2136, 0.6185, -1.5729),
    (7, 2.3709, 0.3958, -1.2583),
]


@pytest.fixture(scope="module")
def r():
    return gd.run()


def test_table(r):
    got = [(s, round(w, 4), round(l, 4), round(g, 4)) for s, w, l, g in r["steps"]]
    assert got == SOURCE
    assert (round(r["final"][0], 4), round(r["final"][1], 4)) == (2.4967, 0.2533)


def test_ascent_vs_descent(r):
    assert r["start"] == (1.0, 4.0, -4.0)
    assert (round(r["ascent"][0], 4), round(r["ascent"][1], 4)) == (0.6, 5.76)
    assert (round(r["descent"][0], 4), round(r["descent"][1], 4)) == (1.4, 2.56)


def test_learning_rate_table(r):
    rows = {row["lr"]: row for row in r["lr_table"]}
    assert {lr: round(row["new"], 4) for lr, row in rows.items()} == {
        0.001: 0.5002,
        0.01: 0.502,
        0.1: 0.52,
        1.0: 0.7,
        10.0: 2.5,
    }
    assert rows[0.001]["verdict"].startswith("too small")
    assert rows[1.0]["verdict"].startswith("unstable")
    assert rows[10.0]["verdict"] == "diverges"
    assert rows[0.1]["verdict"] == "good"


def test_plot_writes_png(tmp_path):
    path = tmp_path / "gradient-descent.png"
    gd.run(plot=True, out_dir=str(tmp_path))
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
