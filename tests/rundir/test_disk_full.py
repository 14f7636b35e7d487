"""A full (or read-only) disk gets one sentence, exit status 2, no half-written files, and the
last checkpoint stays whole; a run that cannot fit is refused before it starts."""

from __future__ import annotations

import errno
import os
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest
import safetensors.torch
from safetensors import SafetensorError
from support import faults
from support.runs import TINY, cli, fails, make_run, snapshot

from glassgpt import fileio
from glassgpt.errors import DiskError
from glassgpt.rundir import append_record, checkpoint, directory, space
from glassgpt.training.launch import build_trainer, train
from glassgpt.training.trainer import Trainer

FULL_SENTENCE = "is full (needs ~"


def leftovers(run: Path) -> list[str]:
    """Half-written files: temporaries, or a checkpoint folder that never got swapped in."""
    return sorted(
        str(p.relative_to(run))
        for p in run.rglob("*")
        if p.name.endswith(".tmp") or p.name in ("state.new", "state.old")
    )


def resumed(run: Path, steps: int) -> Trainer:
    return build_trainer(run, overrides={"train.max_steps": steps}, resume=True)


def test_a_full_disk_at_any_write_of_a_checkpoint_keeps_the_last_one(tmp_path):
    run = tmp_path / "run"
    make_run(run, steps=2)
    trainer = resumed(run, 4)
    with faults.FileFaults(only=faults.ALLOCATING, root=tmp_path) as dry:
        trainer.save()
    trainer.close()
    kept = snapshot(run / "state")
    assert dry.count >= 8, dry.ops  # state.new, three safetensors files, trainer.json, the top-level copy
    for k in range(1, dry.count + 1):
        trainer = resumed(run, 4)
        try:
            with faults.FileFaults(fail_at=k, fail=faults.disk_full, only=faults.ALLOCATING, root=tmp_path) as ops:
                with pytest.raises(DiskError) as err:
                    trainer.save()
        finally:
            trainer.close()
        message = str(err.value)
        assert message.startswith(f"the disk holding {run} {FULL_SENTENCE}") and message.endswith(
            "for a checkpoint); free space and run the same command with --resume."
        ), (ops.failed, message)
        assert leftovers(run) == [], ops.failed
        if "model.safetensors" in ops.failed and "state" not in ops.failed and ops.failed.startswith("shutil"):
            continue  # the top-level copy failed: the new checkpoint is already in place
        assert checkpoint.load(run)[3]["step"] == 2
    assert snapshot(run / "state") == kept
    assert train(run, resume=True, overrides={"train.max_steps": 4}).steps == 4  # once there is room again


def test_the_safetensors_writer_reports_a_full_disk_in_its_own_words(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    make_run(run, steps=2)
    before = snapshot(run / "state")
    real = safetensors.torch.save_file

    def writer(tensors, path, metadata=None):
        if ".optimizer.safetensors" in str(path):
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        return real(tensors, path, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", writer)
    err = fails(capsys, "train", "--out", run, "--resume", "--max-steps", 4, "--quiet", match=FULL_SENTENCE)
    assert "free space and run the same command with --resume." in err
    assert leftovers(run) == [] and snapshot(run / "state") == before
    monkeypatch.setattr(safetensors.torch, "save_file", real)
    code, err = cli(capsys, "train", "--out", run, "--resume", "--max-steps", 4, "--quiet")
    assert code == 0, err


def test_a_full_disk_while_logging_leaves_no_half_line(tmp_path):
    log = tmp_path / "metrics.jsonl"
    append_record(log, {"step": 1})
    with faults.FileFaults(fail_at=1, fail=faults.disk_full, only={"os.write"}), pytest.raises(DiskError, match="full"):
        append_record(log, {"step": 2, "train_loss": 1.0})
    assert log.read_text() == '{"step": 1}\n'


def test_read_only_and_quota_errors_get_their_own_sentence(tmp_path):
    for number, words in ((errno.EROFS, "is read-only; make it writable"), (errno.EDQUOT, "quota")):
        err = fileio.disk_error(OSError(number, os.strerror(number)), tmp_path / "f")
        assert err is not None
        assert words in str(space.disk_message(err, tmp_path, 10**6, "a checkpoint", "run the same command"))
    assert fileio.disk_error(OSError(errno.EACCES, "denied"), tmp_path) is None


Usage = namedtuple("Usage", "total used free")


def test_a_run_that_cannot_fit_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys, text_file):
    run = tmp_path / "run"
    make_run(run, steps=2)
    monkeypatch.setattr(space.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 50_000, 50_000))
    new = tmp_path / "new"
    err = fails(capsys, "train", "--data", text_file, "--out", new, *TINY, match="has 50.0 kB free, but")
    assert "MB is needed for the run's data and two checkpoints" in err and not new.exists()
    before = snapshot(run)
    fails(capsys, "train", "--out", run, "--resume", "--max-steps", 4, match="is needed for a checkpoint")
    assert snapshot(run) == before


def test_overwrite_counts_the_room_of_the_run_it_replaces(tmp_path, monkeypatch):
    run = tmp_path / "run"
    make_run(run, steps=1)
    (run / "notes.txt").write_text("x" * 10_000)
    ours = directory.own_bytes(run)
    assert ours == sum(p.stat().st_size for p in run.rglob("*") if p.is_file() and p.name != "notes.txt")
    monkeypatch.setattr(space.shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 1000))
    space.require_room(run, ours + 1000, "a new run", "go on", freed=ours)  # fits once the old run is gone
    with pytest.raises(DiskError, match="counting the run it replaces"):
        space.require_room(run, ours + 1001, "a new run", "go on", freed=ours)


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs (needs root); skipped cleanly where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the simulated full-disk tests cover the same paths")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Take all but about ``leave`` bytes of the disk with one file."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(space.free_bytes(disk) - leave, 0))
    return filler


def test_a_real_full_disk(small_disk, capsys, text_file, monkeypatch):
    big = ["--set", "model.n_embd=192", "--set", "model.n_layer=2"]
    fails(capsys, "train", "--data", text_file, "--out", small_disk / "big", *TINY, *big, match="MB free, but")
    assert not (small_disk / "big").exists()
    run = small_disk / "run"
    make_run(run, steps=2)
    kept = snapshot(run / "state")
    filler = fill(small_disk, leave=12_000)
    monkeypatch.setattr(space, "require_room", lambda *args, **kwargs: None)  # let it start: the disk fills mid-save
    err = fails(capsys, "train", "--out", run, "--resume", "--max-steps", 4, "--quiet", match=FULL_SENTENCE)
    assert err.endswith("free space and run the same command with --resume.")
    assert leftovers(run) == [] and snapshot(run / "state") == kept
    fails(capsys, "train", "--data", text_file, "--out", small_disk / "new", *TINY, match="full")
    assert not (small_disk / "new").exists()  # a new run that did not fit leaves nothing
    filler.unlink()
    code, err = cli(capsys, "train", "--out", run, "--resume", "--max-steps", 4, "--quiet")
    assert code == 0, err
    assert checkpoint.load(run)[3]["step"] == 4
