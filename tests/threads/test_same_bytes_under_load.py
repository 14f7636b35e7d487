"""The same command gives the same bytes whatever the machine's load: the training threads come
from the hardware (recorded in config.json), never from how busy the machine is, so a run
trained beside busy-spinning processes, or resumed under them, equals one trained quietly."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest
from support.tinyrun import TINY_TEXT

from glassgpt.fileio import load_tensors

SMALL = [
    "--set",
    "model.n_layer=2",
    "--set",
    "model.n_embd=32",
    "--set",
    "model.n_head=2",
    "--set",
    "model.block_size=32",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.eval_every=0",
    "--set",
    "train.save_every=4",
]


@contextlib.contextmanager
def spinners(n: int):
    """``n`` processes that keep a core busy each, stopped on the way out whatever happens."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def train(data, out, *extra) -> None:
    argv = [
        sys.executable,
        "-m",
        "glassgpt",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        *SMALL,
        "--quiet",
        *extra,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env={"GLASSGPT_REPORT": "0", **_env()})
    assert done.returncode == 0, done.stderr[-2000:]


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "GLASSGPT_REPORT"}


def weights(run) -> dict:
    return {k: v.numpy().tobytes() for k, v in load_tensors(run / "model.safetensors").items()}


@pytest.mark.slow
def test_a_busy_machine_changes_no_byte_of_the_weights(tmp_path):
    data = tmp_path / "text.txt"
    data.write_text(TINY_TEXT * 3, encoding="utf-8")
    train(data, tmp_path / "quiet", "--max-steps", "12")
    with spinners(2):
        train(data, tmp_path / "busy", "--max-steps", "12")
    threads = json.loads((tmp_path / "quiet" / "config.json").read_text())["train"]["threads"]
    assert threads >= 1 and json.loads((tmp_path / "busy" / "config.json").read_text())["train"]["threads"] == threads
    assert weights(tmp_path / "busy") == weights(tmp_path / "quiet")
    # resumed under load: the same bytes as the straight quiet run
    train(data, tmp_path / "resumed", "--max-steps", "8")
    with spinners(2):
        train(data, tmp_path / "resumed", "--max-steps", "12", "--resume")
    assert weights(tmp_path / "resumed") == weights(tmp_path / "quiet")
