"""The torch engine's row parts on the CPU: with N training threads each micro-batch's rows run
in N parts, one core each.  The gradients are the one-part gradients up to float32 rounding,
the same bytes every time, with or without a diagnostics capture, and a resume equals a
straight run.  Runs the parts cannot be cut for keep torch's own threads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.rowparts import batches, run_config, training_threads

from glassgpt.training.engines import TorchEngine
from glassgpt.training.engines.row_parts import PartThreads, even_groups, row_parts


def train(engine: TorchEngine, data, threads: int, micro: int = 1, capture: bool = False) -> list[float]:
    losses = []
    with training_threads(threads):
        for x, y in data:
            parts = np.array_split(np.arange(len(x)), micro)
            losses.append(engine.train_step([(x[i], y[i]) for i in parts], 1e-3, capture=capture).loss)
            assert torch.get_num_threads() == threads  # restored after every step
    return losses


def weights(engine: TorchEngine) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in engine.model.state_dict().items()}


def test_row_parts_cut_as_evenly_as_the_rows_go_and_share_the_counted_targets():
    y = np.zeros((5, 4), dtype=np.int64)
    y[3:, 2:] = -1  # the last two rows count 2 targets each
    assert row_parts(y, 2) == [(0, 2, 8 / 16), (2, 5, 8 / 16)]
    assert [(a, b) for a, b, _ in row_parts(y, 3)] == [(0, 2), (2, 3), (3, 5)]
    assert row_parts(np.full((4, 3), -1), 2) == []  # nothing counted: the caller runs the rows whole


def test_part_threads_return_results_in_job_order():
    threads = PartThreads()
    assert threads.run(lambda a, b: a * b, [(1, 2), (3, 4), (5, 6)]) == [2, 12, 30] and threads.started


def test_even_groups_give_each_thread_about_the_same_work():
    # costliest first, each to the lightest group so far: 5 | 4, then 2 to the 4, then 1 to the 5
    assert even_groups([5.0, 1.0, 4.0, 2.0], 2) == [[0, 1], [2, 3]]
    assert even_groups([3.0, 3.0], 4) == [[0], [1]]  # no empty groups
    assert even_groups([1.0, 2.0, 3.0], 1) == [[2, 1, 0]]


def test_the_optimizer_step_spread_over_the_threads_gives_the_bytes_of_one_thread():
    """Muon's matrices orthogonalised in one group per thread (AdamW beside them) give what
    the same updates give one after another on this thread."""
    cfg = run_config().updated({"train.optimizer": "muon", "train.muon_ns_steps": 3})
    data = batches(4)
    spread, in_turn = TorchEngine(cfg), TorchEngine(cfg)
    groups = []

    def one_by_one(fn, jobs):
        groups.append(len(jobs))
        return [fn(*job) for job in jobs]

    in_turn.part_threads.run = one_by_one
    train(spread, data, 2)
    train(in_turn, data, 2)
    assert groups == [2, 2] * len(data)  # each step: two row parts, then two groups of updates
    a, b = weights(spread), weights(in_turn)
    assert all(torch.equal(a[n], b[n]) for n in a)


@pytest.mark.parametrize("micro", [1, 2])
def test_two_threads_track_one_thread_and_repeat_to_the_byte(micro):
    """float32 sums in another order: losses within 1e-4 over ten steps, weights within 1e-4."""
    data = batches(10)
    one, two, again = (TorchEngine(run_config()) for _ in range(3))
    assert two.splits_rows
    losses1, losses2, losses3 = (train(e, data, t, micro) for e, t in ((one, 1), (two, 2), (again, 2)))
    assert two.part_threads.started and not one.part_threads.started
    assert max(abs(a - b) for a, b in zip(losses1, losses2)) <= 1e-4
    assert losses2 == losses3
    w1, w2, w3 = weights(one), weights(two), weights(again)
    for name in w1:
        assert torch.equal(w2[name], w3[name]), name
        assert torch.allclose(w2[name], w1[name], rtol=0, atol=1e-4), name


def test_a_captured_step_gives_the_same_bytes():
    data = batches(4)
    plain, watched = TorchEngine(run_config()), TorchEngine(run_config())
    train(plain, data, 2)
    losses = []
    with training_threads(2):
        for i, (x, y) in enumerate(data):
            result = watched.train_step([(x, y)], 1e-3, capture=i == 1)
            losses.append(result.loss)
            if i == 1:
                assert result.probe is not None
    a, b = weights(plain), weights(watched)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_a_resume_on_two_threads_equals_a_straight_run():
    data = batches(6)
    straight = TorchEngine(run_config())
    train(straight, data, 2)
    first = TorchEngine(run_config())
    train(first, data[:3], 2)
    resumed = TorchEngine(run_config())
    resumed.load_state_dict(first.state_dict())
    train(resumed, data[3:], 2)
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_ignored_targets_weigh_nothing():
    """A part that counts no target adds nothing and the loss stays the counted mean."""
    x, y = batches(1)[0]
    y = y.copy()
    y[4:] = -1
    one, two = TorchEngine(run_config()), TorchEngine(run_config())
    (l1,), (l2,) = train(one, [(x, y)], 1), train(two, [(x, y)], 2)
    assert np.isfinite(l2) and abs(l1 - l2) <= 1e-5


@pytest.mark.parametrize(
    "model",
    [{"dropout": 0.1}, {"ensemble": 2}],
    ids=["dropout", "ensemble"],
)
def test_runs_the_parts_cannot_serve_keep_torchs_threads(model):
    engine = TorchEngine(run_config(**model))
    assert not engine.splits_rows
    train(engine, batches(1), 2)
    assert not engine.part_threads.started
