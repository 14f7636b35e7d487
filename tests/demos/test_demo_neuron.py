"""docs/curriculum.md, A7: a neuron, a 2-2-1 net by hand (computed gradient, one SGD step), and the PyTorch run."""

import numpy as np
import pytest

from glassgpt.demos import neuron

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def r():
    return neuron.run()


def test_single_neuron(r):
    assert round(r["neuron_z"], 4) == 0.5
    assert round(r["neuron_relu"], 4) == 0.5


def test_network_forward(r):
    assert [round(x, 4) for x in r["h_pre"]] == [0.56, -0.1]
    assert [round(x, 4) for x in r["h"]] == [0.56, 0.0]
    assert round(r["out"], 4) == 0.442
    assert round(r["loss"], 6) == round((1 - 0.442) ** 2, 6) == 0.311364


def test_gradient_is_computed_not_copied(r):
    # -2 (1 - 0.442) 0.56 = -0.62496: the corrected value (docs/curriculum.md, A7)
    assert round(r["grad_w_h1_out"], 5) == -0.62496
    assert r["grads"]["out_w"][1] == 0  # h2 is inactive
    for k, hand in r["grads"].items():
        if k in r["autograd"]:
            assert np.abs(np.subtract(hand, r["autograd"][k])).max() < 1e-12, k  # float64 both sides


def test_one_sgd_step_lowers_the_loss(r):
    assert r["loss_after"] < r["loss"]
    assert round(r["out_after"], 4) == 0.6887
    assert round(r["loss_after"], 6) == 0.096927


def test_pytorch_run_matches_source(r):
    preds = r["torch"]["predictions"]
    assert len(preds) == 10
    assert all(b > a for a, b in zip(preds, preds[1:]))  # climbs toward 1
    # the source's printed values reproduce with torch.manual_seed(42) and nn.Linear's default init
    assert (round(preds[0], 4), round(preds[-1], 4)) == (0.5456, 0.9874)
    assert r["torch_matches_source"]


def test_plot_writes_png(tmp_path):
    path = tmp_path / "neuron.png"
    neuron.run(plot=True, out_dir=str(tmp_path))
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
