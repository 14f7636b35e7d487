"""docs/curriculum.md, A3: cross-entropy from scratch equals PyTorch's; worked values and pictures."""

import numpy as np
import pytest
import torch

from glassgpt.demos import cross_entropy as ce

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def r():
    return ce.run()


def test_matches_torch_on_random_inputs(r):
    for row in r["comparisons"]:
        assert row["loss_diff_f32"] < 1e-6  # float32 rounding of torch's computation
        assert row["loss_diff_f64"] < 1e-12
        assert row["grad_diff_f32"] < 1e-6
        assert row["grad_diff_f64"] < 1e-14


@pytest.mark.parametrize("n,c,seed", [(1, 2, 1), (7, 3, 2), (50, 50, 3)])
def test_more_shapes_against_autograd(n, c, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * 5
    targets = rng.integers(0, c, size=n)
    x = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(x, torch.tensor(targets))
    loss.backward()
    assert abs(ce.cross_entropy(logits, targets) - loss.item()) < 1e-12  # float64 both sides
    assert np.abs(ce.cross_entropy_grad(logits, targets) - x.grad.numpy()).max() < 1e-14


def test_stable_softmax_survives_large_logits(r):
    assert r["naive_overflows"]
    assert [round(p, 4) for p in r["stable"]] == [0.0900, 0.2447, 0.6652]


def test_worked_values(r):
    assert round(r["worked"][0.7], 3) == 0.357
    assert round(r["worked"][0.01], 3) == 4.605
    assert [round(x, 3) for x in r["token_losses"]] == [1.204, 0.357, 2.303]
    assert round(r["token_mean"], 3) == 1.288
    assert [round(p, 3) for p in r["probs"]] == [0.563, 0.207, 0.126, 0.028, 0.076]
    assert round(r["grad"][0], 3) == -0.437
    assert r["grad"][1:] == pytest.approx(r["probs"][1:], abs=0)  # non-target gradient is p itself


def test_landmarks(r):
    assert {k: round(v[1], 3) for k, v in r["landmarks"].items()} == {
        "terrible": 4.605,
        "coin flip": 0.693,
        "perfect": 0.0,
    }


def test_plot_writes_png(tmp_path):
    path = tmp_path / "cross-entropy.png"
    ce.run(plot=True, out_dir=str(tmp_path))
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
