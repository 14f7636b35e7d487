"""``--device`` and ``--threads`` are one pair of options: every command that runs a model has
both, with the same help, metavar and default (written once, in glassgpt/cli/__init__.py), and an
absurd value is one sentence, exit status 2, before anything is written."""

from __future__ import annotations

import argparse
import io

import pytest
from support.chatrun import write_sft
from support.runs import fails

from glassgpt.cli import COMMANDS, DEVICE_HELP, RUNS_A_MODEL, THREADS_HELP, build_parser, thread_count

#: the arguments each command that runs a model needs besides the two options
ARGS = {
    "train": lambda run, tmp: ["--out", tmp / "new", "--max-steps", 1, "--quiet"],
    "eval": lambda run, tmp: [run],
    "sample": lambda run, tmp: [run, "--quiet"],
    "explain": lambda run, tmp: [run, "the"],
    "finetune": lambda run, tmp: [run, "--sft", write_sft(tmp / "chat.jsonl"), "--out", tmp / "new"],
    "chat": lambda run, tmp: [run],
    "serve": lambda run, tmp: [run, "--port", 0],
}


def flags(command: str) -> dict[str, argparse.Action]:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {flag: action for action in sub._actions for flag in action.option_strings}


def option(command: str, flag: str) -> argparse.Action:
    found = flags(command)
    assert flag in found, f"`glassgpt {command}` has no {flag}"
    return found[flag]


@pytest.mark.parametrize("command", COMMANDS)
def test_any_command_with_either_option_has_the_shared_one(command):
    found = flags(command)
    if "--device" in found or command in RUNS_A_MODEL:
        assert found["--device"].help == DEVICE_HELP and found["--device"].default is None
    if "--threads" in found or command in RUNS_A_MODEL:
        assert found["--threads"].help == THREADS_HELP and found["--threads"].default is None


@pytest.mark.parametrize("command", [*RUNS_A_MODEL, "gradcheck"])
def test_each_command_that_runs_a_model_has_the_same_two_options(command):
    threads = option(command, "--threads")
    assert (threads.default, threads.type, threads.metavar, threads.help) == (None, thread_count, "N", THREADS_HELP)
    if command == "gradcheck":  # the NumPy engine and its PyTorch reference: the CPU only
        with pytest.raises(AssertionError, match="has no --device"):
            option(command, "--device")
        return
    device = option(command, "--device")
    assert (device.default, device.type, device.metavar, device.help) == (None, None, "DEVICE", DEVICE_HELP)


@pytest.mark.parametrize("command", RUNS_A_MODEL)
def test_an_absurd_thread_count_is_one_sentence(command, base, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # chat: no conversation to read
    args = ARGS[command](base, tmp_path)
    err = fails(capsys, command, *args, "--threads", 5000, match="--threads 5000 is not a usable thread count")
    assert err.endswith("(or 0 to choose automatically).")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("command", RUNS_A_MODEL)
def test_an_unknown_device_is_one_sentence(command, base, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    args = ARGS[command](base, tmp_path)
    err = fails(capsys, command, *args, "--device", "tpu", match="'tpu'")
    assert "auto, cpu, cuda" in err
    assert not (tmp_path / "new").exists()
