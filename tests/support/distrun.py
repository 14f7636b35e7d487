"""Real multi-process jobs for the distributed tests: ``torchrun`` on 127.0.0.1 with a free port,
each job in its own process group, every one still running killed when the test ends
(importable as ``support.distrun``; the ``jobs`` fixture in tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from glassgpt.parallel.world import free_port

#: a two-layer char model that steps in milliseconds
MODEL = [
    "--tokenizer",
    "char",
    "--threads",
    "1",
    "--set",
    "model.n_layer=2",
    "--set",
    "model.n_head=2",
    "--set",
    "model.n_embd=32",
    "--set",
    "model.block_size=16",
    "--set",
    "model.dropout=0.0",
    "--set",
    "train.lr=3e-3",
    "--set",
    "train.warmup_steps=2",
    "--set",
    "train.eval_batches=3",
    "--set",
    "train.log_every=1",
    "--set",
    "train.sample_tokens=8",
    "--set",
    "train.time_budget=0",
]


def environment() -> dict:
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "GLASSGPT_REPORT": "0",
        "GLASSGPT_DIST_TIMEOUT": "120",
        "PYTHONUNBUFFERED": "1",
    }


class Jobs:
    """Started jobs; ``stop_all`` kills whatever is left of them (each is a process group)."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, nproc: int, *args, log_dir: Path | None = None) -> subprocess.Popen:
        """``torchrun --nproc_per_node=nproc -m glassgpt ARGS`` (worker output per rank in ``log_dir``)."""
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={nproc}",
            "--nnodes=1",
            "--master_addr=127.0.0.1",
            f"--master_port={free_port()}",
        ]
        if log_dir is not None:
            cmd += ["--log-dir", str(log_dir), "--redirects", "3"]
        cmd += ["-m", "glassgpt", *map(str, args)]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(), start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def run(self, nproc: int, *args, timeout: float = 180) -> subprocess.CompletedProcess:
        for attempt in range(2):
            proc = self.start(nproc, *args)
            out, err = proc.communicate(timeout=timeout)
            # the free port was taken by another program before torchrun bound it: once more, on another
            if proc.returncode == 0 or "address already in use" not in err.lower() or attempt:
                return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.communicate()


def rank_pids(parent: int) -> dict[int, int]:
    """{rank: pid} of the workers a torchrun process started (read from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            env = dict(item.split("=", 1) for item in (entry / "environ").read_text().split("\0") if "=" in item)
        except (OSError, ValueError, IndexError):
            continue
        if "RANK" in env:
            found[int(env["RANK"])] = int(entry.name)
    return found


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the job ended before {what}: {err[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def worker_log(log_dir: Path, rank: int, stream: str = "stderr") -> str:
    """What rank ``rank`` wrote (torchrun ``--redirects 3`` puts it under the log folder)."""
    files = sorted(Path(log_dir).rglob(f"attempt_*/{rank}/{stream}.log"))
    return files[-1].read_text() if files else ""
