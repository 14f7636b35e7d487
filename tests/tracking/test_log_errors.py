"""Bad --log input: one sentence, exit status 2, and nothing on disk changed or lost."""

from __future__ import annotations

import hashlib
import sys

import pytest
from support.tinyrun import TINY_TEXT

from glassgpt.cli import main

TINY = [
    *("--set", "model.n_layer=1", "--set", "model.n_head=2", "--set", "model.n_embd=16"),
    *("--set", "model.block_size=16", "--set", "train.batch_size=4", "--set", "train.eval_every=0"),
    "--quiet",
]


def snapshot(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def fails(capsys, *args, match):
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert match in err, err
    return err


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TINY_TEXT)
    return path


@pytest.fixture
def finished_run(tmp_path, text_file, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(text_file), "--out", str(run), "--max-steps", "3", *TINY]) == 0
    capsys.readouterr()
    return run


def new_run(text_file, run, *log):
    return ["train", "--data", str(text_file), "--out", str(run), "--max-steps", "3", *TINY, *log]


def test_an_unknown_backend_is_refused_before_anything_is_written(tmp_path, text_file, capsys):
    run = tmp_path / "run"
    fails(capsys, *new_run(text_file, run, "--log", "tensorbord"), match="unknown --log backend 'tensorbord'; choose")
    fails(capsys, *new_run(text_file, run, "--log", "none,wandb"), match="--log none turns the trackers off")
    assert not run.exists()


@pytest.mark.parametrize("backend", ["tensorboard", "wandb"])
def test_a_backend_whose_extra_is_missing_names_the_pip_command(tmp_path, text_file, capsys, monkeypatch, backend):
    monkeypatch.setitem(sys.modules, backend, None)  # import fails as if it were not installed
    run = tmp_path / "run"
    err = fails(capsys, *new_run(text_file, run, "--log", backend), match=f"pip install 'glassgpt[{backend}]'")
    assert f"--log {backend} needs the {backend} package" in err
    assert not run.exists()


def test_a_log_directory_that_cannot_be_written_is_refused_and_the_run_kept(finished_run, capsys):
    (finished_run / "tensorboard").write_text("not a folder")  # where the event files would go
    before = snapshot(finished_run)
    args = ["train", "--out", str(finished_run), "--resume", "--max-steps", "6", "--quiet", "--log", "tensorboard"]
    fails(capsys, *args, match=f"the tensorboard log directory {finished_run / 'tensorboard'} is a file, not a folder")
    assert snapshot(finished_run) == before


def test_a_corrupted_tracker_file_is_refused_on_resume_and_the_run_kept(finished_run, capsys):
    (finished_run / "trackers.json").write_text('{"wandb": "abc"')
    before = snapshot(finished_run)
    args = ["train", "--out", str(finished_run), "--resume", "--max-steps", "6", "--quiet"]
    fails(capsys, *args, match=f"the tracker file {finished_run / 'trackers.json'} is corrupted; delete it")
    assert snapshot(finished_run) == before
