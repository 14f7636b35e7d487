"""--time-budget covers the final evaluation and the end-of-run samples: training stops at the
budget minus their predicted cost (every validation token, and sample_tokens per prompt).  Timed on a simulated clock (each
training step and each evaluated token costs a fixed time), so the test is exact on any machine."""

import json

import pytest
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.config import resolve
from glassgpt.data import token_stream
from glassgpt.errors import ConfigError
from glassgpt.rundir import read_metrics
from glassgpt.training import budget as budget_clock
from glassgpt.training import trainer
from glassgpt.training.budget import MARGIN, EvalClock, Pace, out_of_time
from glassgpt.training.launch import build_trainer

STEP_S = 0.1  # one training step
EVAL_S_PER_TOKEN = 2e-3  # evaluation: 500 tokens/s, so the ~490 validation tokens take ~1 s
SAMPLE_S_PER_TOKEN = 4e-3  # sampling: the 200 end-of-run tokens take 0.8 s


class Clock:
    """Simulated time; ``load(now)``: how many times slower than the base costs the machine runs
    at simulated time ``now``."""

    def __init__(self, load=lambda now: 1.0):
        self.now, self.load = 0.0, load

    def perf_counter(self) -> float:
        return self.now

    def time(self) -> float:
        return 1.7e9 + self.now


def simulated(monkeypatch, load=lambda now: 1.0) -> Clock:
    """The trainer's, the budget's and sampling's clock replaced by a simulated one on which
    every sampled token costs simulated time."""
    clock = Clock(load)
    monkeypatch.setattr(trainer, "time", clock)
    monkeypatch.setattr(budget_clock, "time", clock)
    monkeypatch.setattr(token_stream, "time", clock)
    real_generate = token_stream.generate

    def timed_generate(model, ids, n, **k):
        clock.now += SAMPLE_S_PER_TOKEN * n * load(clock.now)
        return real_generate(model, ids, n, **k)

    monkeypatch.setattr(token_stream, "generate", timed_generate)
    return clock


def timed(tr, clock: Clock, evaluations: bool = True, step_load=None):
    """``tr`` with each training step (and evaluated token) costing simulated time; ``step_load``:
    the training steps' own slowdown (default: the clock's)."""
    step, evaluate = tr.engine.train_step, tr.engine.eval_sums
    step_load = step_load or clock.load

    def timed_step(*a, **k):
        clock.now += STEP_S * step_load(clock.now)
        return step(*a, **k)

    def timed_eval(x, y):
        clock.now += EVAL_S_PER_TOKEN * y.size * clock.load(clock.now)
        return evaluate(x, y)

    tr.engine.train_step = timed_step
    if evaluations:
        tr.engine.eval_sums = timed_eval
    return tr


def simulated_trainer(tmp_path, monkeypatch, load=lambda now: 1.0, step_load=None, **train):
    clock = simulated(monkeypatch, load)
    return timed(
        build_trainer(tmp_path / "run", config=tiny_config(**train), text=TINY_TEXT), clock, step_load=step_load
    )


def small_speedrun(budget: float):
    """The cpu-speedrun recipe on a test-sized model."""
    small = {"model.n_embd": 32, "model.block_size": 16, "model.n_layer": 2, "data.corpus": ""}
    train = {"batch_size": 8, "time_budget": budget, "warmup_steps": 5, "eval_every": 0, "eval_batches": 2}
    return resolve("cpu-speedrun").updated(
        {**small, **{f"train.{k}": v for k, v in train.items()}, "train.sample_tokens": 20}
    )


def test_eval_clock_and_the_stopping_rule():
    clock = EvalClock()
    assert clock.predict(1000) == 0.0  # nothing measured yet: nothing reserved
    clock.record(500, 2.0)
    clock.record(500, 1.0)  # the latest measurement wins
    assert clock.predict(1000) == pytest.approx(2.0)
    assert not out_of_time(5.0, 0.0, 1.0, 100.0)  # no budget
    assert out_of_time(7.0, 10.0, 0.5, 2.5) == (7.0 + 0.5 + MARGIN * 2.5 >= 10.0)
    assert not out_of_time(6.0, 10.0, 0.5, 2.5)


@pytest.mark.parametrize("eval_every", [0, 20])
def test_training_plus_final_evaluation_fit_the_budget(tmp_path, monkeypatch, eval_every):
    budget = 6.0
    tr = simulated_trainer(tmp_path, monkeypatch, max_steps=10_000, time_budget=budget, eval_every=eval_every)
    result = tr.run()
    info = json.loads((tmp_path / "run" / "summary.json").read_text())["budget"]
    assert result.stopped_by == "time_budget"
    final_s = info["final_eval_s"]
    assert final_s > 0.9  # the final evaluation is a real share here
    assert info["predicted_final_eval_s"] == pytest.approx(final_s, rel=0.02)
    assert info["predicted_samples_s"] == pytest.approx(info["samples_s"]) == pytest.approx(0.8)
    assert info["with_samples_s"] <= budget  # it all fits, samples included
    periodic = 2 * 8 * 16 * EVAL_S_PER_TOKEN if eval_every else 0.0
    slack = STEP_S + periodic + (MARGIN - 1) * (final_s + 0.8) + 1e-9
    assert info["with_samples_s"] >= budget - slack - STEP_S  # and not much is left unused
    assert info["training_s"] == pytest.approx(info["with_final_eval_s"] - final_s)


def test_without_a_budget_nothing_is_calibrated(tmp_path, monkeypatch):
    tr = simulated_trainer(tmp_path, monkeypatch, max_steps=5, eval_every=0)
    tr.run()
    info = json.loads((tmp_path / "run" / "summary.json").read_text())["budget"]
    assert info["training_s"] == pytest.approx(5 * STEP_S)  # five steps, no calibration batches
    assert info["predicted_final_eval_s"] == 0.0


def test_a_time_clock_schedule_finishes_its_decay_when_the_budget_ends(tmp_path, monkeypatch):
    tr = simulated_trainer(
        tmp_path,
        monkeypatch,
        max_steps=100_000,
        time_budget=6.0,
        eval_every=0,
        warmup_steps=5,
        schedule_clock="time",
        min_lr_ratio=0.1,
        lr=1e-2,
    )
    result = tr.run()
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run") if "lr" in r]
    assert result.stopped_by == "time_budget" and result.steps < 100
    assert lrs[-1] == pytest.approx(
        1e-3, rel=0.1
    )  # the floor, reached with the time (a step clock would be at the peak)
    assert max(lrs) == pytest.approx(1e-2, rel=0.02) and all(b <= a for a, b in zip(lrs[1:], lrs[2:]))


def test_a_time_clock_needs_a_budget():
    with pytest.raises(ConfigError, match="time budget"):
        resolve("baby", overrides={"train.schedule_clock": "time", "train.time_budget": "0"})


def test_the_cpu_speedrun_preset_spends_its_budget_and_ends_its_decay_at_zero(tmp_path, monkeypatch):
    cfg = resolve("cpu-speedrun")
    m, t = cfg.model, cfg.train
    assert (t.optimizer, t.schedule, t.schedule_clock, t.min_lr_ratio) == ("muon", "wsd", "time", 0.0)
    assert (m.pos, m.norm, m.activation, m.qk_norm, m.tie_weights) == ("rope", "rmsnorm", "relu2", True, False)
    clock = simulated(monkeypatch)
    tr = timed(build_trainer(tmp_path / "run", config=small_speedrun(6.0), text=TINY_TEXT), clock, evaluations=False)
    result = tr.run()
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run") if "lr" in r]
    assert result.stopped_by == "time_budget" and 40 <= result.steps <= 60  # ~6 s of 0.1 s steps
    assert max(lrs) == pytest.approx(2e-3, rel=0.02)
    assert lrs[-1] < 0.1 * 2e-3  # the decay ran out with the time


def test_the_glass_engine_refuses_the_cpu_speedrun_preset_in_one_sentence():
    with pytest.raises(ConfigError) as err:
        resolve("cpu-speedrun", overrides={"train.engine": "glass"})
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")


def test_the_pace_is_a_median_and_scales_what_was_measured_before_the_first_step():
    pace = Pace()
    assert pace.slowdown(0.0) == 1.0  # nothing known yet: the predictions as measured
    for seconds in [0.5, 0.1, 0.1, 0.1, 0.1]:  # the first step also warms up
        pace.observe(seconds)
    assert pace.first == pytest.approx(0.1) and pace.slowdown(0.0) == pytest.approx(1.0)
    pace.observe(0.9)  # one slow step does not count
    assert pace.slowdown(0.0) == pytest.approx(1.0)
    for _ in range(3):
        pace.observe(0.2)
    assert pace.slowdown(0.0) == pytest.approx(2.0)  # twice as slow now as the first steps
    assert pace.slowdown(0.4) == pytest.approx(0.5)  # and half as slow as when something was timed at 0.4 s a step


def halfway(before: float, after: float, budget: float):
    """A machine ``before`` times slower than the base costs until half the budget, ``after`` from then on."""
    return lambda now: before if now < budget / 2 else after


@pytest.mark.parametrize("eval_every", [0, 50])
def test_a_machine_twice_as_slow_from_halfway_still_ends_within_its_budget(tmp_path, monkeypatch, eval_every):
    budget = 20.0
    tr = simulated_trainer(
        tmp_path, monkeypatch, halfway(1.0, 2.0, budget), max_steps=10_000, time_budget=budget, eval_every=eval_every
    )
    result = tr.run()
    info = json.loads((tmp_path / "run" / "summary.json").read_text())["budget"]
    assert result.stopped_by == "time_budget"
    assert 0.95 * budget <= info["with_samples_s"] <= budget
    # the final evaluation and the samples took twice what was timed before the machine got busy, as predicted
    assert info["pace_slowdown"] == pytest.approx(2.0)
    assert info["samples_s"] == pytest.approx(1.6) == pytest.approx(info["predicted_samples_s"])
    assert info["predicted_final_eval_s"] == pytest.approx(info["final_eval_s"], rel=0.02)


@pytest.mark.parametrize("eval_every", [0, 50])
def test_training_slowed_more_than_evaluation_times_the_evaluation_again(tmp_path, monkeypatch, eval_every):
    """Fixed training threads suffer more from a busy machine than evaluation's, which follow the
    load: steps 4x slower, evaluation and sampling 2x.  The pace alone would reserve for 4x.
    (A longer budget: a 0.4 s step and the estimate due after it are the stopping rule's grain.)"""
    budget = 40.0
    tr = simulated_trainer(
        tmp_path,
        monkeypatch,
        halfway(1.0, 2.0, budget),
        step_load=halfway(1.0, 4.0, budget),
        max_steps=10_000,
        time_budget=budget,
        eval_every=eval_every,
    )
    result = tr.run()
    info = json.loads((tmp_path / "run" / "summary.json").read_text())["budget"]
    assert result.stopped_by == "time_budget"
    assert 0.95 * budget <= info["with_samples_s"] <= budget
    assert info["pace_slowdown"] == pytest.approx(4.0) and info["probes"] == 1  # timed again once, when it drifted
    assert info["predicted_final_eval_s"] == pytest.approx(info["final_eval_s"], rel=0.02)
    assert info["samples_s"] == pytest.approx(1.6) == pytest.approx(info["predicted_samples_s"])


@pytest.mark.parametrize("burst", [False, True])
def test_a_burst_of_load_while_an_evaluation_is_timed_does_not_end_the_run_early(tmp_path, monkeypatch, burst):
    """Another program takes the cores for the two batches of the first periodic estimate only
    (15 s each): that estimate measures evaluation ~60x slower while training runs as before.
    The stop it asks for is checked by timing the evaluation again, and the run trains on to
    its budget; without the burst nothing is timed again."""
    budget = 60.0
    clock = simulated(monkeypatch)
    tr = timed(
        build_trainer(
            tmp_path / "run", config=tiny_config(max_steps=10_000, time_budget=budget, eval_every=50), text=TINY_TEXT
        ),
        clock,
    )
    evaluate, calls = tr.engine.eval_sums, []

    def burst_eval(x, y):
        calls.append(clock.now)
        if burst and len(calls) in (5, 6):  # calls 1-4 time the evaluation before the first step
            clock.now += 15.0
        return evaluate(x, y)

    tr.engine.eval_sums = burst_eval
    result = tr.run()
    info = json.loads((tmp_path / "run" / "summary.json").read_text())["budget"]
    assert result.stopped_by == "time_budget"
    assert 0.95 * budget <= info["with_samples_s"] <= budget
    assert info["rechecks"] == (1 if burst else 0)
    assert info["predicted_final_eval_s"] == pytest.approx(info["final_eval_s"], rel=0.02)


@pytest.mark.parametrize("eval_every", [0, 50])
def test_a_machine_twice_as_fast_from_halfway_does_not_stop_early(tmp_path, monkeypatch, eval_every):
    budget = 20.0
    tr = simulated_trainer(
        tmp_path,
        monkeypatch,
        halfway(2.0, 1.0, budget),
        max_steps=10_000,
        time_budget=budget,
        eval_every=eval_every,
        warmup_steps=5,
        schedule_clock="time",
        min_lr_ratio=0.1,
        lr=1e-2,
    )
    result = tr.run()
    info = json.loads((tmp_path / "run" / "summary.json").read_text())["budget"]
    assert result.stopped_by == "time_budget"
    assert 0.95 * budget <= info["with_samples_s"] <= budget  # less kept in reserve once it got faster
    assert info["pace_slowdown"] == pytest.approx(0.5)
    assert info["samples_s"] == pytest.approx(0.8) == pytest.approx(info["predicted_samples_s"])
    # the time clock follows the horizon that grew with the pace: never backwards, its decay ends at the floor
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run") if "lr" in r]
    assert all(b <= a for a, b in zip(lrs[1:], lrs[2:])) and lrs[-1] == pytest.approx(1e-3, rel=0.1)


def test_the_speedrun_recipe_on_a_machine_20_percent_slower_still_fits_its_budget(tmp_path, monkeypatch):
    """Issue 25: the same recipe on a machine 20% slower (every step, evaluation and sample)
    still ends inside its budget, with fewer steps, its decay run out with the time."""
    budget, ends = 10.0, {}
    for slower in (1.0, 1.2):
        clock = simulated(monkeypatch, lambda now, slower=slower: slower)
        tr = timed(build_trainer(tmp_path / f"run{slower}", config=small_speedrun(budget), text=TINY_TEXT), clock)
        result = tr.run()
        info = json.loads((tmp_path / f"run{slower}" / "summary.json").read_text())["budget"]
        lrs = [r["lr"] for r in read_metrics(tmp_path / f"run{slower}") if "lr" in r]
        assert result.stopped_by == "time_budget" and 0.95 * budget <= info["with_samples_s"] <= budget
        assert info["predicted_final_eval_s"] == pytest.approx(info["final_eval_s"], rel=0.02)
        assert max(lrs) == pytest.approx(2e-3, rel=0.02) and lrs[-1] < 0.1 * 2e-3  # the decay ran out at the budget
        ends[slower] = result.steps
    assert ends[1.2] < 0.9 * ends[1.0]  # fewer steps fit on the slower machine
