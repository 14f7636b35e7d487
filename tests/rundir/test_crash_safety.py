"""kill -9 at any moment loses at most the work since the last checkpoint and never corrupts it."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from support.tinyrun import TINY_TEXT

from glassgpt.fileio import atomic_write_bytes
from glassgpt.models.from_run import load
from glassgpt.rundir import checkpoint

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
]


def start(run, data, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "glassgpt",
            "train",
            "--data",
            str(data),
            "--out",
            str(run),
            "--quiet",
            "--save-every",
            "1",
            "--max-steps",
            "1000000",
            *TINY,
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def wait_for(path, proc, timeout=60):
    end = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < end, "training never wrote its first checkpoint"
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_during_checkpointing_never_corrupts_the_run(tmp_path):
    data = tmp_path / "text.txt"
    data.write_text(TINY_TEXT)
    run = tmp_path / "run"
    rng = random.Random(0)
    last_step = 0
    for attempt in range(6):
        proc = start(run, data) if attempt == 0 else start(run, data, "--resume")
        wait_for(run / "state" / "trainer.json", proc)
        time.sleep(rng.uniform(0.2, 1.5))  # checkpoints are written every step: we land mid-write often
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        weights, optim, rng_state, state = checkpoint.load(run)  # a complete, readable checkpoint
        assert state["step"] >= last_step  # never goes back past a finished checkpoint
        last_step = state["step"]
        assert set(optim) and set(weights) and "torch_cpu" in rng_state
        model, tok = load(run)  # sample/eval can read the run
        assert model.num_params() > 0 and tok.vocab_size > 10
    assert last_step > 0
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "glassgpt",
            "train",
            "--out",
            str(run),
            "--resume",
            "--max-steps",
            str(last_step + 3),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_atomic_write_keeps_the_old_file_when_the_writer_dies(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old contents")
    code = (
        f"import os\nfrom glassgpt.fileio import atomic_write\n"
        f"def w(tmp):\n    open(tmp,'wb').write(b'half')\n    os.kill(os.getpid(), 9)\n"
        f"atomic_write({str(target)!r}, w)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"old contents"


def test_atomic_files_get_normal_permissions(tmp_path):
    import os

    import torch

    from glassgpt.fileio import save_tensors

    atomic_write_bytes(tmp_path / "g.bin", b"x")
    save_tensors(tmp_path / "w.safetensors", {"a": torch.zeros(2)})
    mask = os.umask(0)
    os.umask(mask)
    for name in ("g.bin", "w.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
