"""docs/curriculum.md, A2: p - onehot on the given 4x6 table, the row-sum tolerance, and the /N decision."""

import math

import pytest

from glassgpt.demos import loss_gradient

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def r():
    return loss_gradient.run()


def test_target_cells(r):
    assert [round(x, 4) for x in r["target_cells"]] == [-0.8746, -0.8500, -0.8272, -0.8229]
    assert r["targets"] == [3, 4, 5, 2]


def test_mean_loss_vs_uniform(r):
    assert round(r["mean_loss"], 3) == 1.865
    assert round(r["uniform_loss"], 3) == 1.792
    assert r["uniform_loss"] == math.log(6)


def test_row_sums_need_a_rounding_tolerance(r):
    # the source's 1e-6 flags row 2 (its printed probabilities sum to 0.9999) ...
    assert r["flagged_source_tol"] == [2]
    assert round(r["row_sums"][2], 4) == -0.0001
    # ... a tolerance that covers 4-digit rounding of 6 entries flags nothing
    assert r["rounding_tol"] >= 1e-4
    assert r["flagged_rounding_tol"] == []


def test_gradient_of_the_mean_is_divided_by_n(r):
    n = len(r["targets"])
    for row, row_mean in zip(r["grad_rows"], r["grad_mean"]):
        assert row_mean == pytest.approx([g / n for g in row], abs=1e-15)
    assert [round(x, 4) for x in r["target_cells_mean"]] == [-0.2187, -0.2125, -0.2068, -0.2057]


def test_mean_gradient_matches_autograd():
    import torch

    # logits whose softmax is the given table: log p (softmax is shift-invariant)
    p = torch.tensor(loss_gradient.PROBS, dtype=torch.float64)
    p = p / p.sum(dim=1, keepdim=True)  # exact rows, so log p are valid logits
    logits = p.log().requires_grad_(True)
    torch.nn.functional.cross_entropy(logits, torch.tensor(loss_gradient.TARGETS)).backward()
    expected = (p - torch.nn.functional.one_hot(torch.tensor(loss_gradient.TARGETS), 6)) / 4
    assert torch.allclose(logits.grad, expected, atol=1e-12)  # float64: exact to rounding


def test_plot_writes_png(tmp_path):
    path = tmp_path / "loss-gradient.png"
    loss_gradient.run(plot=True, out_dir=str(tmp_path))
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
