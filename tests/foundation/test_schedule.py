import math

import pytest

from glassgpt.training.schedule import learning_rate


def test_warmup_is_linear_and_nonzero_at_step_0():
    lrs = [learning_rate(s, 1.0, 10, 100) for s in range(10)]
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[9] == pytest.approx(1.0)
    assert all(b - a == pytest.approx(0.1) for a, b in zip(lrs, lrs[1:]))


def test_cosine_decay_hits_midpoint_and_floor():
    assert learning_rate(10, 1.0, 10, 110, 0.1) == pytest.approx(1.0)
    assert learning_rate(60, 1.0, 10, 110, 0.1) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 2)))
    assert learning_rate(110, 1.0, 10, 110, 0.1) == pytest.approx(0.1)
    assert learning_rate(500, 1.0, 10, 110, 0.1) == pytest.approx(0.1)


def test_linear_and_constant_schedules():
    assert learning_rate(55, 2.0, 5, 105, 0.0, "linear") == pytest.approx(1.0)
    assert learning_rate(55, 2.0, 5, 105, 0.0, "constant") == 2.0
    assert learning_rate(0, 2.0, 0, 100, 0.5, "constant") == 2.0
