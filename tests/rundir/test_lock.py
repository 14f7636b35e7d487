"""One writer per run directory: the second is refused with one sentence naming the first,
a dead holder's lock is taken over, readers need no lock."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from support.runs import TINY, cli, fails, make_run, wait_until

from glassgpt.rundir import LOCK, read_metrics
from glassgpt.rundir.checkpoint import load as load_checkpoint
from glassgpt.rundir.lock import RunInUseError, acquire, holder, writer_lock


def test_a_second_writer_is_refused_with_the_holders_pid_host_and_command(tmp_path):
    with writer_lock(tmp_path, "train --resume"):
        with pytest.raises(RunInUseError) as err:
            acquire(tmp_path, "export")
        message = str(err.value)
        assert f"PID {os.getpid()}" in message and socket.gethostname() in message and "train --resume" in message
        assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    lock = acquire(tmp_path, "export")  # free again once the block is left
    assert holder(tmp_path)["command"] == "export" and holder(tmp_path)["pid"] == os.getpid()
    lock.release()
    assert (tmp_path / LOCK).is_file()  # never deleted: waiters must share one inode
    assert holder(tmp_path) == {}  # emptied: the next contender cannot mistake its details for a new holder's


def test_a_contender_waits_for_the_new_holders_details_not_a_dead_writers(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK).write_text(
        json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "command": "train"}), encoding="utf-8"
    )  # left by a killed writer
    fd = os.open(tmp_path / LOCK, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held, details not written yet
    try:
        with pytest.raises(RunInUseError) as err:
            acquire(tmp_path, "export")
        assert "PID" not in str(err.value) and "another glassgpt process;" in str(err.value)
    finally:
        os.close(fd)


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    code = (
        "import sys, time\nfrom glassgpt.rundir.lock import acquire\n"
        f"lock = acquire({str(tmp_path)!r}, 'train')\nprint('locked', flush=True)\ntime.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUseError, match=f"PID {proc.pid} "):
            acquire(tmp_path)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert holder(tmp_path)["pid"] == proc.pid  # its details are still in the file: stale
        with writer_lock(tmp_path, "train"):  # but the kernel dropped the lock with the process
            assert holder(tmp_path)["pid"] == os.getpid()
    finally:
        proc.kill()
        proc.wait()


def test_stale_holder_details_are_ignored_when_the_lock_is_free(tmp_path):
    (tmp_path / LOCK).write_text(json.dumps({"pid": 999999, "host": "elsewhere", "command": "train"}))
    with writer_lock(tmp_path, "train --overwrite"):
        assert holder(tmp_path)["pid"] == os.getpid() and holder(tmp_path)["command"] == "train --overwrite"


def test_writers_are_refused_and_readers_work_while_a_run_is_locked(tmp_path, capsys):
    run = tmp_path / "run"
    make_run(run, steps=3)
    before = (run / "metrics.jsonl").read_bytes()
    with writer_lock(run, "train"):
        fails(capsys, "train", "--out", run, "--resume", "--max-steps", 5, match=f"PID {os.getpid()}")
        fails(capsys, "train", "--data", tmp_path / "x.txt", "--out", run, "--overwrite", match="does not exist")
        (tmp_path / "x.txt").write_text("some text to train on. " * 60)
        fails(
            capsys,
            "train",
            "--data",
            tmp_path / "x.txt",
            "--out",
            run,
            "--overwrite",
            *TINY,
            match="is in use by another glassgpt process",
        )
        assert (run / "metrics.jsonl").read_bytes() == before  # nothing changed
        code, err = cli(capsys, "sample", run, "--max-new-tokens", 5, "--seed", 0)
        assert code == 0, err
        code, err = cli(capsys, "eval", run)
        assert code == 0, err
    assert (run / "config.json").is_file() and load_checkpoint(run)[3]["step"] == 3


@pytest.mark.slow
def test_two_concurrent_resumes_one_trains_the_other_exits_2(tmp_path, processes):
    run = tmp_path / "run"
    make_run(run, steps=2)
    args = ("train", "--out", run, "--resume", "--max-steps", 1_000_000, "--save-every", 1)
    first, second = processes.start(*args), processes.start(*args)
    wait_until(
        lambda: first.poll() is not None or second.poll() is not None,
        timeout=180,
        what="one of the two resumes to give up",
    )
    loser, winner = (first, second) if first.poll() is not None else (second, first)
    err = loser.communicate()[1].strip()
    assert loser.returncode == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"PID {winner.pid} on host {socket.gethostname()}" in err and "train --resume" in err
    # read-only: checkpoint.load would recover (a writer's job) under the winner's feet
    wait_until(lambda: len(read_metrics(run)) >= 6, winner, what="the winner to train a few steps")
    winner.send_signal(signal.SIGTERM)
    out, err = winner.communicate(timeout=120)
    assert winner.returncode == 0, err
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == list(range(1, len(steps) + 1))  # one line per step: nothing duplicated, nothing lost
    assert load_checkpoint(run)[3]["step"] == steps[-1]
    done = processes.start("train", "--out", run, "--resume", "--max-steps", steps[-1] + 2)
    assert done.wait(timeout=180) == 0, done.stderr.read()  # still resumable
    assert [r["step"] for r in read_metrics(run)] == list(range(1, steps[-1] + 3))
