"""docs/curriculum.md, A5: without residuals the gradient vanishes; with x + F(x) it grows in the toy, and a real
stack keeps its first-layer gradient."""

import pytest

from glassgpt.demos import residual_flow as rf

pytestmark = pytest.mark.slow  # trains small models: several seconds

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("residual")
    return rf.run(plot=True, out_dir=str(out)), out


def test_simulation_vanishes_and_grows(run):
    r, _ = run
    assert round(r["theory_without"], 3) == 0.002  # 0.6^12
    assert round(r["theory_with"]) == 281  # 1.6^12: "about 280"
    # means of 1000 seeded runs land near the theory
    assert r["mean_without"][-1] == pytest.approx(r["theory_without"], rel=0.1)
    assert r["mean_with"][-1] == pytest.approx(r["theory_with"], rel=0.1)
    assert round(r["mean_without"][-1], 3) == 0.002
    # honest: with residual the gradient GROWS, layer after layer
    assert all(b > a for a, b in zip(r["mean_with"], r["mean_with"][1:]))
    assert r["mean_with"][-1] > 100


def test_real_stack_gradient_flow(run):
    r, _ = run
    ratio = r["first_over_last_init"]
    assert ratio["plain"] < 0.05  # vanishing: the first block gets a few percent at most
    assert ratio["plain + residual"] > 0.3
    assert ratio["pre-norm + residual"] > 0.3
    assert ratio["plain + residual"] > 10 * ratio["plain"]
    for name, m in r["measured"].items():
        assert m["loss_trained"] < m["loss_init"], name  # the short training run does learn


def test_plot_writes_png(run):
    r, out = run
    path = out / "residual-flow.png"
    assert r["figure"] == str(path)
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
