"""docs/curriculum.md, A4: every intermediate of the tiny net by hand, equal to autograd; an inactive ReLU too."""

import numpy as np
import pytest

from glassgpt.demos import chain_rule

R4 = lambda v: np.round(np.asarray(v, dtype=float), 4).tolist()  # noqa: E731


@pytest.fixture(scope="module")
def r():
    return chain_rule.run()


def test_source_numbers(r):
    h = r["active"]["hand"]
    assert R4(h["h_pre"]) == [[0.9, 1.3]]
    assert R4(h["h"]) == [[0.9, 1.3]]
    assert R4(h["out"]) == [[-0.42]]
    assert R4(h["loss"]) == [[2.0164]]
    assert R4(h["dL/dout"]) == [[-2.84]]
    assert R4(h["dL/dW2"]) == [[-2.556], [-3.692]]
    assert R4(h["dL/dh"]) == [[-1.136, 1.704]]
    assert R4(h["dL/dW1"]) == [[-1.136, 1.704], [-2.272, 3.408]]


@pytest.mark.parametrize("case", ["active", "inactive"])
def test_hand_equals_autograd(r, case):
    # float64 on both sides, identical operation order: agreement to the last bit or two
    for name, diff in r[case]["max_diff"].items():
        assert diff < 1e-12, name


def test_inactive_relu_gets_zero_gradient(r):
    h = r["inactive"]["hand"]
    assert h["h_pre"][0][1] < 0 and h["h"][0][1] == 0
    assert h["dL/dh"][0][1] != 0  # gradient arrives at h ...
    assert h["dL/dh_pre"][0][1] == 0  # ... and ReLU stops it
    assert [row[1] for row in h["dL/dW1"]] == [0, 0]
    assert h["dL/dW2"][1] == [0]
    auto = r["inactive"]["autograd"]
    assert [abs(row[1]) for row in auto["dL/dW1"]] == [0, 0]


def test_plot_flag_is_accepted(tmp_path):
    assert "figure" not in chain_rule.run(plot=True, out_dir=str(tmp_path))
