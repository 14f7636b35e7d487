import math

import pytest

from glassgpt.training.schedule import learning_rate, time_position


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


def test_wsd_warms_up_holds_then_decays_linearly_over_the_last_fraction():
    lr = [learning_rate(s, 2.0, 10, 100, 0.1, "wsd", 0.2) for s in range(120)]
    assert lr[0] == pytest.approx(0.2) and lr[9] == pytest.approx(2.0)  # the same warmup
    assert all(v == 2.0 for v in lr[10:80])  # stable until 80 = 100 - 20% of 100
    decay = lr[80:101]
    assert decay[0] == 2.0 and decay[10] == pytest.approx(1.1) and decay[20] == pytest.approx(0.2)
    steps = [b - a for a, b in zip(decay, decay[1:])]
    assert all(d == pytest.approx(-0.09) for d in steps)  # a straight line down
    assert all(v == pytest.approx(0.2) for v in lr[100:])  # then the floor
    assert all(b <= a for a, b in zip(lr[10:], lr[11:]))  # never rises after warmup


def test_wsd_decay_never_starts_inside_the_warmup():
    lr = [learning_rate(s, 1.0, 50, 60, 0.0, "wsd", 0.5) for s in range(61)]
    assert lr[49] == pytest.approx(1.0) and lr[50] == 1.0  # the decay starts at the end of the warmup
    assert lr[55] == pytest.approx(0.5) and lr[60] == 0.0


def test_time_position_counts_warmup_steps_then_the_share_of_time():
    assert time_position(3, 10, 100, 0.5) == 3  # inside the warmup: real steps
    assert time_position(10, 10, 100, 0.02) == 10.0  # never back inside the warmup
    assert time_position(40, 10, 100, 0.5) == 50.0  # half the time: half-way along the schedule
    assert time_position(90, 10, 100, 1.3) == 100.0  # past the horizon: the end
    assert learning_rate(time_position(500, 10, 100, 1.0), 1.0, 10, 100, 0.1) == pytest.approx(0.1)
