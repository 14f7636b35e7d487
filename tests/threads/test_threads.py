"""The thread policy: cores from affinity, cgroup quota and current load; adapting to
contention while training; the cap on explicit counts; and what the count changes numerically."""

import json

import pytest
import torch
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt import cli
from glassgpt import threads as T
from glassgpt.config import ModelConfig
from glassgpt.errors import ConfigError
from glassgpt.models import GPT
from glassgpt.threads import ThreadGovernor, cgroup_cpu_limit, choose_threads, idle_cores, plan_threads, usable_cpus
from glassgpt.training import trainer
from glassgpt.training.launch import train

# ---- cores: affinity, quota, load ------------------------------------------------------------


def cgroup_tree(tmp_path, v2=None, nested=None, v1=None):
    root = tmp_path / "cgroup"
    (root / "app" / "job").mkdir(parents=True)
    (tmp_path / "self").write_text("0::/app/job\n" if v2 is not None or nested is not None else "3:cpu:/\n")
    if v2 is not None:
        (root / "app" / "job" / "cpu.max").write_text(v2)
    if nested is not None:
        (root / "app" / "cpu.max").write_text(nested)
    if v1 is not None:
        (root / "cpu").mkdir()
        (root / "cpu" / "cpu.cfs_quota_us").write_text(v1[0])
        (root / "cpu" / "cpu.cfs_period_us").write_text(v1[1])
    return dict(root=root, self_cgroup=tmp_path / "self")


@pytest.mark.parametrize(
    "files, cores",
    [
        (dict(v2="150000 100000\n"), 1.5),
        (dict(v2="max 100000\n"), None),
        (dict(v2="max 100000\n", nested="50000 100000"), 0.5),  # a parent group's quota binds
        (dict(v2="300000 100000", nested="200000 100000"), 2.0),  # the smallest wins
        (dict(v1=("250000", "100000")), 2.5),
        (dict(v1=("-1", "100000")), None),
        ({}, None),
    ],
)
def test_cgroup_quota_in_cores(tmp_path, files, cores):
    assert cgroup_cpu_limit(**cgroup_tree(tmp_path, **files)) == (pytest.approx(cores) if cores else None)


def test_usable_cores_are_affinity_capped_by_quota():
    assert usable_cpus(list(range(8)), None) == 8
    assert usable_cpus(list(range(8)), 1.5) == 2
    assert usable_cpus(list(range(8)), 0.25) == 1
    assert usable_cpus([3], 4.0) == 1


def stat(*cpus):
    """/proc/stat text with one line per (user, idle) pair, other fields 0."""
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"] + [f"cpu{i} {u} 0 0 {idle} 0 0 0 0 0 0" for i, (u, idle) in enumerate(cpus)]
    return "\n".join(lines + ["intr 1 2 3", "ctxt 99"]) + "\n"


def test_idle_cores_from_two_proc_stat_readings():
    before = stat((100, 100), (100, 100), (100, 100))
    after = stat((200, 100), (100, 200), (150, 150))  # cpu0 busy, cpu1 idle, cpu2 half
    assert idle_cores(before, after, [0, 1, 2]) == pytest.approx(1.5)
    assert idle_cores(before, after, [0]) == pytest.approx(0.0)
    assert idle_cores(before, after, [1, 2]) == pytest.approx(1.5)
    assert idle_cores(before, before, [0, 1]) is None  # no time passed


@pytest.mark.parametrize(
    "usable, idle, n", [(2, 1.96, 2), (2, 0.95, 1), (2, 0.05, 1), (8, None, 8), (4, 2.6, 3), (4, 9.0, 4)]
)
def test_choose_threads_takes_the_idle_cores(usable, idle, n):
    assert choose_threads(usable, idle) == n


def test_plans_auto_explicit_and_capped():
    busy = plan_threads(0, measure=lambda cpus: 0.2, quota=None, cpus=[0, 1])
    assert (busy.threads, busy.most, busy.adaptive) == (1, 2, True) and "adaptive" in busy.reason
    quiet = plan_threads(0, measure=lambda cpus: 1.97, quota=None, cpus=[0, 1])
    assert quiet.threads == 2
    limited = plan_threads(0, measure=lambda cpus: 7.5, quota=1.5, cpus=list(range(8)))
    assert (limited.threads, limited.most) == (2, 2)  # 8 idle host cores, but a quota of 1.5
    asked = plan_threads(3, measure=lambda cpus: 0.0, quota=None, cpus=[0, 1])
    assert (asked.threads, asked.adaptive) == (3, False)  # an explicit count is kept as given
    absurd = plan_threads(5000, measure=lambda cpus: 0.0, quota=None, cpus=[0, 1])
    assert absurd.threads == T.THREADS_PER_CPU * 2 and "capped" in absurd.reason
    assert T.max_sensible_threads() == T.THREADS_PER_CPU * usable_cpus(quota=cgroup_cpu_limit())


# ---- the governor, on a simulated machine ----------------------------------------------------


class Machine:
    """Step time as a function of the thread count and the load, the cores other processes
    keep busy (``OTHERS``, for a governor that can see them), and a log of set_threads calls."""

    def __init__(self, times):
        self.times, self.calls, self.load = times, [], "quiet"

    def run(self, governor, steps, load):
        self.load = load
        notes = []
        for _ in range(steps):
            note = governor.observe(self.times[load][governor.current])
            if note:
                notes.append(note)
        return notes

    def others(self) -> float:
        return OTHERS[self.load]


OTHERS = {"quiet": 0.1, "busy": 1.0}


def governor(machine, current=2, most=2, sees_load=False):
    return ThreadGovernor(current, most, set_threads=machine.calls.append, others=machine.others if sees_load else None)


TIMES = {"quiet": {1: 0.050, 2: 0.030}, "busy": {1: 0.060, 2: 0.400}}


def test_a_quiet_machine_is_left_alone():
    m = Machine(TIMES)
    g = governor(m)
    assert m.run(g, 500, "quiet") == [] and m.calls == [] and g.current == 2


def test_contention_drops_to_fewer_threads_and_says_so_once():
    m = Machine(TIMES)
    g = governor(m)
    m.run(g, 50, "quiet")
    notes = m.run(g, 200, "busy")
    assert g.current == 1 and m.calls[0] == 1
    assert len(notes) == 1 and "2 → 1" in notes[0] and "busy" in notes[0]
    assert g.changes and g.changes[0][1] == 1
    # retrying 2 threads while still busy is rare and abandoned after one slow step
    before = len(m.calls)
    m.run(g, 2000, "busy")
    up_tries = [c for c in m.calls[before:] if c == 2]
    assert g.current == 1 and 1 <= len(up_tries) <= 8  # exponential back-off: a handful in 2,000 steps


def test_when_the_load_goes_away_it_returns_to_more_threads():
    m = Machine(TIMES)
    g = governor(m, current=1, most=2)  # started on a busy machine
    m.run(g, 100, "busy")
    assert g.current == 1
    m.run(g, 3000, "quiet")
    assert g.current == 2


def test_fewer_threads_that_are_not_faster_are_not_kept():
    m = Machine({"busy": {1: 0.9, 2: 0.4}, "quiet": {1: 0.05, 2: 0.03}})
    g = governor(m)
    m.run(g, 30, "quiet")
    notes = m.run(g, 300, "busy")  # slower than before at 2, but 1 thread is slower still
    assert notes == [] and g.current == 2 and 1 in m.calls  # it tried, then went back


@pytest.mark.parametrize("sees_load", [True, False])
def test_a_quiet_machine_is_left_alone_either_way(sees_load):
    m = Machine(TIMES)
    g = governor(m, sees_load=sees_load)
    m.run(g, 1000, "quiet")
    assert m.calls == [] and g.current == 2


def test_a_load_present_from_the_start_is_seen_in_the_other_cores():
    """Steps are slow from the first block, so no slowdown shows; the other processes' cores do."""
    m = Machine(TIMES)
    g = governor(m, sees_load=True)
    notes = m.run(g, 30, "busy")
    assert g.current == 1 and len(notes) == 1
    m.run(g, 3000, "busy")
    assert m.calls == [1]  # and while the load stays, 2 threads are never tried again
    m.run(g, 100, "quiet")
    assert g.current == 2 and m.calls == [1, 2]  # cores came free: back to 2


def test_evaluation_and_sampling_threads_follow_the_load_right_then(monkeypatch):
    """Each phase measures a fresh window, the first one too (it used to see "unknown" right
    after construction and take every core of a busy machine)."""
    monkeypatch.setattr(T, "affinity_cpus", lambda: [0, 1])
    idle = iter([0.3, 1.8, None])
    windows = []

    def measure(cpus, interval):
        windows.append((cpus, interval))
        return next(idle)

    follow = T.LoadFollower(measure=measure)
    assert follow.threads() == 1  # busy: one core idle at most
    assert follow.threads() == 2  # the load went away
    assert follow.threads() == 2  # unknown: the usable cores
    assert windows == [([0, 1], 0.1)] * 3


def test_other_load_is_busy_time_minus_our_own(tmp_path, monkeypatch):
    path = tmp_path / "stat"
    clock = {"t": 0.0, "cpu": 0.0}
    monkeypatch.setattr(T.time, "monotonic", lambda: clock["t"])
    monkeypatch.setattr(T.os, "times", lambda: os_times(clock["cpu"]))
    path.write_text(stat((100, 100), (100, 100)))
    load = T.OtherLoad([0, 1], path)
    path.write_text(stat((200, 100), (180, 120)))  # cpu0 all busy, cpu1 80% busy: 1.8 cores
    clock["t"], clock["cpu"] = 1.0, 1.0  # of which we used 1.0
    assert load() == pytest.approx(0.8)
    clock["t"] = 2.0  # nothing moved in /proc/stat: unknown
    assert load() is None
    assert T.OtherLoad([0], tmp_path / "missing")() is None


def os_times(cpu):
    return type("Times", (), {"user": cpu, "system": 0.0})()


def test_a_single_catastrophic_trial_step_aborts_the_trial():
    seen = []
    g = ThreadGovernor(1, 2, set_threads=seen.append)
    for _ in range(7):  # one block at 1 thread (after the first, uncounted step): then it tries 2
        g.observe(0.05)
    assert seen == [2]
    g.observe(5.0)  # one step at 2 threads took 100x
    assert seen == [2, 1] and g.current == 1


def test_an_engine_of_row_parts_starts_at_the_cores_and_may_double_them():
    plan = T.plan_threads(0, measure=lambda cpus: 0.3, quota=None, cpus=[0, 1], splits_rows=True)
    assert (plan.threads, plan.most, plan.adaptive, plan.more_when_busy) == (2, 4, True, True)
    assert "one row part each, up to 4 when busy" in plan.reason
    fixed = T.plan_threads(2, quota=None, cpus=[0, 1], splits_rows=True)
    assert (fixed.threads, fixed.adaptive) == (2, False)  # an explicit or default count never moves


#: row parts on a simulated 2-core machine: under load more parts are faster (none waits for a parked thread)
PART_TIMES = {"quiet": {2: 0.030, 4: 0.032}, "busy": {2: 0.062, 4: 0.052}}


def parts_governor(machine):
    return ThreadGovernor(2, 4, set_threads=machine.calls.append, others=machine.others, more_when_busy=True)


def test_row_parts_go_up_when_busy_and_back_when_quiet():
    m = Machine(PART_TIMES)
    g = parts_governor(m)
    assert m.run(g, 500, "quiet") == [] and m.calls == []  # quiet: left alone
    notes = m.run(g, 50, "busy")
    assert g.current == 4 and m.calls == [4] and len(notes) == 1 and "2 → 4" in notes[0] and "busy" in notes[0]
    m.run(g, 2000, "busy")
    assert g.current == 4 and m.calls == [4]  # never tries fewer while the load stays
    quiet = {"quiet": {2: 0.030, 4: 0.040}, "busy": PART_TIMES["busy"]}
    m.times = quiet
    m.run(g, 300, "quiet")
    assert g.current == 2 and m.calls[:2] == [4, 2]  # cores came free: back to the usable cores


def test_more_parts_that_are_not_faster_are_not_kept():
    m = Machine({"quiet": {2: 0.030, 4: 0.032}, "busy": {2: 0.050, 4: 0.052}})
    g = parts_governor(m)
    m.run(g, 300, "busy")
    assert g.current == 2 and 4 in m.calls and g.changes == []


# ---- in the trainer ---------------------------------------------------------------------------


def test_an_adaptive_run_follows_the_load_and_records_its_plan(tmp_path, monkeypatch):
    """A run with dropout (no row parts): the idle cores, 1 of 2 here."""
    monkeypatch.setattr(
        trainer,
        "plan_threads",
        lambda n, **kw: T.plan_threads(n, measure=lambda cpus: 0.3, quota=None, cpus=[0, 1], **kw),
    )
    cfg = tiny_config(max_steps=8, adaptive_threads=True).updated({"model.dropout": 0.1})
    train(tmp_path / "r", config=cfg, text=TINY_TEXT)
    info = json.loads((tmp_path / "r" / "summary.json").read_text())["threads"]
    assert info["start"] == 1 and "adaptive: 2 usable cores, 0.3 idle" in info["plan"]
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["threads"] == 0  # nothing recorded
    assert torch.get_num_threads() == 1  # restored after the run (the suite runs on one)


def test_trainer_prints_what_the_governor_says(tmp_path, monkeypatch, capsys):
    class Adapting(ThreadGovernor):
        def observe(self, seconds):
            self.steps += 1
            return "threads: 2 → 1 (test)" if self.steps in (3, 6) else None

    monkeypatch.setattr(trainer, "plan_threads", lambda n, **_: T.ThreadPlan(2, 2, True, "2 threads (test)"))
    monkeypatch.setattr(T, "ThreadGovernor", Adapting)
    train(tmp_path / "r", config=tiny_config(max_steps=8), text=TINY_TEXT, progress=True)
    err = capsys.readouterr().err
    assert err.count("threads: 2 → 1 (test)") == 2  # the trainer prints what the governor says, each time


def test_an_absurd_thread_count_is_refused_not_hung(tmp_path, monkeypatch):
    """--threads 5000 is one sentence before anything is written (the thread cap:
    more than THREADS_PER_CPU per usable core only adds waiting)."""
    monkeypatch.setattr(trainer, "plan_threads", T.plan_threads)
    with pytest.raises(ConfigError, match="not a usable thread count.*use 1 to"):
        train(tmp_path / "r", config=tiny_config(max_steps=3, threads=5000), text=TINY_TEXT)
    assert not (tmp_path / "r").exists()


# ---- numerics at different thread counts --------------------------------------------------------


def _grads(model, idx, y, n):
    torch.set_num_threads(n)
    model.zero_grad()
    _, loss = model(idx, y)
    loss.backward()
    return loss.item(), {k: p.grad.clone() for k, p in model.named_parameters()}


def test_thread_count_changes_only_layernorm_gain_and_bias_gradients():
    """Torch gives the same forward and the same gradients at 1 and 2 threads, except the
    fused LayerNorm backward, which sums its gain and bias gradients over rows in per-thread
    chunks: those differ at float32 roundoff (observed ~1e-9)."""
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=40, block_size=32, n_layer=2, n_head=2, n_embd=64))
    idx, y = torch.randint(0, 40, (8, 32)), torch.randint(0, 40, (8, 32))
    try:
        l1, g1 = _grads(model, idx, y, 1)
        l2, g2 = _grads(model, idx, y, 2)
    finally:
        torch.set_num_threads(1)
    assert l1 == l2
    for name in g1:
        if ".ln_" in name:
            assert (g1[name] - g2[name]).abs().max() <= 1e-6 * g1[name].abs().max()
        else:
            assert torch.equal(g1[name], g2[name]), name


def test_rmsnorm_runs_are_identical_at_one_and_two_threads(tmp_path, monkeypatch):
    """With RMSNorm (no fused LayerNorm backward) every gradient of torch's own threads is
    thread-count independent, so whole runs are byte-identical.  (Dropout keeps the run on
    torch's threads; without it, 2 threads run the rows in 2 parts, whose gradients are summed
    in another order: tests/training/test_row_parts.py.)"""

    def cfg(n):
        c = tiny_config(max_steps=12, threads=n)
        c = c.updated({"model.norm": "rmsnorm", "model.activation": "relu2", "model.dropout": 0.1})
        return c

    train(tmp_path / "one", config=cfg(1), text=TINY_TEXT)
    train(tmp_path / "two", config=cfg(2), text=TINY_TEXT)
    assert (tmp_path / "one" / "model.safetensors").read_bytes() == (
        tmp_path / "two" / "model.safetensors"
    ).read_bytes()


# ---- OpenMP environment defaults ------------------------------------------------------------------


def test_openmp_defaults_fill_only_what_the_environment_leaves_open(monkeypatch):
    monkeypatch.setattr(cli, "OPENMP_DEFAULTS", {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "1000"})
    env = {"GOMP_SPINCOUNT": "5"}
    cli.apply_openmp_defaults(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "5"}  # the user's own value wins
    off = {"GLASSGPT_OPENMP_DEFAULTS": "0"}
    cli.apply_openmp_defaults(off)
    assert off == {"GLASSGPT_OPENMP_DEFAULTS": "0"}


@pytest.mark.parametrize(
    ("given", "threads", "adaptive"),
    [("adaptive", 0, True), ("ADAPTIVE", 0, True), ("3", 3, False)],
)
def test_threads_option_sets_a_fixed_count_or_the_adaptive_policy(given, threads, adaptive):
    from glassgpt.cli.train import overrides_from

    args = cli.build_parser("train").parse_args(["train", "--threads", given])
    items = overrides_from(args)
    assert (items["train.threads"], items["train.adaptive_threads"]) == (threads, adaptive)


def test_threads_option_refuses_a_word_other_than_adaptive(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.build_parser("train").parse_args(["train", "--threads", "lots"])
    assert stop.value.code == 2
    assert "'lots' is neither a whole number nor 'adaptive'" in capsys.readouterr().err


def test_a_default_run_records_the_cores_it_trained_with(tmp_path, monkeypatch):
    """The training thread count is derived before the run starts and written to config.json, so a
    resume (or the same command on a busy machine) uses the same count."""
    import glassgpt.training.launch as launch

    monkeypatch.setattr(launch, "training_threads", lambda ranks=1: 2)
    train(tmp_path / "r", config=tiny_config(max_steps=2), text=TINY_TEXT)
    stored = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert (stored["threads"], stored["adaptive_threads"]) == (2, False)
