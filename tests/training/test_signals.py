"""SIGTERM and SIGUSR1 stop a run as the first Ctrl-C does, but return as soon as it is saved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from support.runs import TINY, cli, quick_config, wait_until
from support.tinyrun import TINY_TEXT

from glassgpt.rundir import read_metrics
from glassgpt.rundir.checkpoint import load as load_checkpoint
from glassgpt.training.launch import build_trainer, train
from glassgpt.training.stopping import StopSignals
from glassgpt.training.trainer import Trainer


def test_stop_signals_set_a_reason_and_put_the_old_handlers_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    with StopSignals() as stop:
        assert stop.check() is None
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.check() == "interrupted"
        os.kill(os.getpid(), signal.SIGTERM)  # a termination outranks a Ctrl-C ...
        with pytest.raises(KeyboardInterrupt):  # ... and a second Ctrl-C still stops at once
            os.kill(os.getpid(), signal.SIGINT)
        assert stop.check() == "terminated" and stop.terminated
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)  # repeated: nothing more happens
        assert stop.check() == "terminated"
    assert {s: signal.getsignal(s) for s in before} == before


def stop_with_signal_at(trainer: Trainer, step: int, signum: int) -> None:
    engine_step = trainer.engine.train_step

    def train_step(*args, **kwargs):
        result = engine_step(*args, **kwargs)
        if trainer.step + 1 == step:  # the trainer counts this step after the engine returns
            os.kill(os.getpid(), signum)
        return result

    trainer.engine.train_step = train_step


def test_sigusr1_saves_writes_the_summary_and_skips_the_final_evaluation(tmp_path):
    run = tmp_path / "run"
    trainer = build_trainer(run, config=quick_config(max_steps=20, save_every=1000), text=TINY_TEXT)
    stop_with_signal_at(trainer, 4, signal.SIGUSR1)
    result = trainer.run()
    assert (result.steps, result.stopped_by, result.final, result.samples) == (4, "terminated", {}, [])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped_by"] == "terminated" and summary["steps"] == 4 and summary["final"] == {}
    assert load_checkpoint(run)[3]["step"] == 4  # saved although save_every is far away
    assert not (run / "samples.jsonl").exists()
    assert train(run, resume=True, overrides={"train.max_steps": 6}).stopped_by == "max_steps"
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3, 4, 5, 6]


def test_the_stop_is_read_once_per_step_through_the_agreement_hook(tmp_path):
    """The hook a distributed run uses to make every rank stop after the same step."""
    trainer = build_trainer(tmp_path / "run", config=quick_config(max_steps=20, save_every=1000), text=TINY_TEXT)
    seen = []

    def agree(local_reason):
        seen.append(local_reason)
        return "terminated" if len(seen) == 3 else local_reason  # another rank was told to stop

    trainer.agree = agree
    result = trainer.run()
    assert seen == [None, None, None] and (result.steps, result.stopped_by) == (3, "terminated")


@pytest.mark.slow
def test_sigterm_before_the_first_save_leaves_a_resumable_run(tmp_path, processes, text_file, capsys):
    run = tmp_path / "run"
    proc = processes.start(
        "train", "--data", text_file, "--out", run, "--max-steps", 1_000_000, "--save-every", 1_000_000, *TINY
    )
    wait_until(lambda: len(read_metrics(run)) >= 2, proc, what="training to start")
    assert not (run / "state").exists()  # no checkpoint yet: a kill now would lose every step
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "terminated" in out and "--resume" in out
    steps = json.loads((run / "summary.json").read_text())["steps"]
    assert json.loads((run / "summary.json").read_text())["stopped_by"] == "terminated"
    assert load_checkpoint(run)[3]["step"] == steps == read_metrics(run)[-1]["step"]
    code, err = cli(capsys, "train", "--out", run, "--resume", "--max-steps", steps + 2, "--quiet")
    assert code == 0, err
    assert [r["step"] for r in read_metrics(run)] == list(range(1, steps + 3))


def test_a_ctrl_c_during_interpreter_shutdown_prints_no_traceback():
    """A Ctrl-C that arrives once the command is done (e.g. while torch's exit handlers run)."""
    code = (
        "import atexit, os, signal, sys, time\n"
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2)))\n"
        "from glassgpt.cli import main\nsys.argv = ['glassgpt', 'demo']\nsys.exit(main())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr, proc.stderr
