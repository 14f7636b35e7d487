"""Helpers for the tests of a run directory's safety (tests/rundir, tests/training): tiny runs
made in-process, the CLI in-process and in real processes (started with one thread and always
stopped, even when a test fails: the ``processes`` fixture in tests/conftest.py)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from glassgpt.cli import main
from glassgpt.rundir import LOCK
from glassgpt.training.launch import train
from support.tinyrun import TINY_TEXT, tiny_config

#: a one-layer model for CLI runs (fast to start, fast to step)
TINY = [
    "--set",
    "model.n_layer=1",
    "--set",
    "model.n_head=2",
    "--set",
    "model.n_embd=16",
    "--set",
    "model.block_size=16",
    "--set",
    "train.batch_size=4",
    "--set",
    "train.eval_every=0",
    "--set",
    "train.log_every=1",
    "--set",
    "train.sample_tokens=8",
    "--set",
    "train.threads=1",
    "--quiet",
]


def quick_config(**train_settings):
    """tiny_config with one thread, short samples and no periodic evaluation."""
    settings = {"threads": 1, "sample_tokens": 8, "eval_every": 0, "log_every": 1, **train_settings}
    return tiny_config(**settings)


def make_run(run_dir: Path, steps: int = 3, **train_settings):
    """A finished tiny run (checkpoint at every step unless told otherwise)."""
    settings = {"max_steps": steps, "save_every": 1, **train_settings}
    return train(run_dir, config=quick_config(**settings), text=TINY_TEXT)


def cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip()


def fails(capsys, *args, match: str) -> str:
    """The command exits 2 with one line ``error: ...`` containing ``match`` (no traceback)."""
    code, err = cli(capsys, *args)
    assert code == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert match.lower() in err.lower(), err
    return err


def snapshot(folder: Path) -> dict:
    """Every file's hash (but the lock file's: it names its latest holder)."""
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and p.name != LOCK
    }


class Processes:
    """Real ``glassgpt`` processes; every one still running is killed when the test ends."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, *args) -> subprocess.Popen:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GLASSGPT_REPORT": "0"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "glassgpt", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.communicate()


def wait_until(condition, proc: subprocess.Popen | None = None, timeout: float = 120.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended ({proc.returncode}) before {what}: {proc.stderr.read()}")
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)
