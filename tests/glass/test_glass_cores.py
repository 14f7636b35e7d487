"""The glass engine on several cores: a micro-batch's rows cut into one part per training thread
give the one-part gradient up to float32 rounding, the same bytes every time, and a resume that
equals a straight run (with dropout too)."""

from __future__ import annotations

import numpy as np
import pytest
from support.rowparts import batches, run_config, training_threads

from glassgpt.training.engines import GlassEngine


def weights(engine: GlassEngine) -> dict[str, np.ndarray]:
    return {k: a.copy() for k, a in engine.model.params.items()}


def train(engine: GlassEngine, data, threads: int) -> list[float]:
    with training_threads(threads):
        return [engine.train_step([(x, y)], 1e-3).loss for x, y in data]


def test_two_parts_give_the_one_part_loss_and_gradients():
    """float32 sums in another order: losses within 2e-6, every gradient within 1e-5 of its scale."""
    x, y = batches(1)[0]
    one, two = GlassEngine(run_config()), GlassEngine(run_config())
    with training_threads(1):
        loss1, grads1 = one.loss_and_grads(x, y, 1.0)
    with training_threads(2):
        loss2, grads2 = two.loss_and_grads(x, y, 1.0)
    assert two.part_threads.started and not one.part_threads.started  # the rows really were split
    assert abs(loss1 - loss2) <= 2e-6
    for name, g in grads1.items():
        scale = float(np.abs(g).max()) or 1.0
        assert np.allclose(grads2[name], g, rtol=0, atol=1e-5 * scale), name


def test_parts_are_weighted_by_their_counted_targets():
    """The second half counts no target: the loss is the first half's mean, not nan, and the
    gradient is the one-part gradient."""
    x, y = batches(1)[0]
    y = y.copy()
    y[4:] = -1
    y[0, :5] = -1
    one, two = GlassEngine(run_config()), GlassEngine(run_config())
    with training_threads(1):
        loss1, grads1 = one.loss_and_grads(x, y, 1.0)
    with training_threads(2):
        loss2, grads2 = two.loss_and_grads(x, y, 1.0)
    assert np.isfinite(loss2) and abs(loss1 - loss2) <= 2e-6
    for name, g in grads1.items():
        assert np.allclose(grads2[name], g, rtol=0, atol=1e-5 * (float(np.abs(g).max()) or 1.0)), name


def test_ten_steps_on_two_threads_track_one_thread_and_repeat_to_the_byte():
    data = batches(10)
    one, two, again = (GlassEngine(run_config()) for _ in range(3))
    losses1, losses2, losses3 = train(one, data, 1), train(two, data, 2), train(again, data, 2)
    assert max(abs(a - b) for a, b in zip(losses1, losses2)) <= 1e-4
    assert losses2 == losses3
    w1, w2, w3 = weights(one), weights(two), weights(again)
    for name in w1:
        assert np.array_equal(w2[name], w3[name]), name
        assert np.allclose(w2[name], w1[name], rtol=0, atol=1e-4), name


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_a_resume_on_two_threads_equals_a_straight_run(dropout):
    data = batches(6)
    straight = GlassEngine(run_config(dropout=dropout))
    train(straight, data, 2)
    first = GlassEngine(run_config(dropout=dropout))
    train(first, data[:3], 2)
    resumed = GlassEngine(run_config(dropout=dropout))
    resumed.load_state_dict(first.state_dict())
    train(resumed, data[3:], 2)
    a, b = weights(straight), weights(resumed)
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def test_dropout_parts_draw_different_masks_from_their_own_generators():
    """With dropout the parts do not share one stream: two threads give a different (but
    repeatable) step than one, and the engine's generator moved by one draw per part."""
    x, y = batches(1)[0]
    one, two = GlassEngine(run_config(dropout=0.2)), GlassEngine(run_config(dropout=0.2))
    start = two.rng.bit_generator.state["state"]["state"]
    with training_threads(1):
        loss1, _ = one.loss_and_grads(x, y, 1.0)
    with training_threads(2):
        loss2, _ = two.loss_and_grads(x, y, 1.0)
    assert loss1 != loss2
    assert two.rng.bit_generator.state["state"]["state"] != start
    replay = np.random.Generator(np.random.PCG64(7))
    replay.integers(2**63, size=2)
    assert two.rng.bit_generator.state == replay.bit_generator.state


def test_one_row_is_not_split():
    x, y = batches(1, rows=1)[0]
    engine = GlassEngine(run_config())
    with training_threads(2):
        engine.loss_and_grads(x, y, 1.0)
    assert not engine.part_threads.started
