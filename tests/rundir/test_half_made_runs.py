"""A new run is absent or complete: a kill or an error at any file operation of its setup
leaves nothing the same command, --overwrite or --resume cannot deal with, and none of the
user's files is touched."""

from __future__ import annotations

import pytest
from support import faults
from support.runs import TINY, cli, fails, make_run, quick_config, snapshot
from support.tinyrun import TINY_TEXT

from glassgpt.errors import GlassError
from glassgpt.rundir import LOCK, directory, require_run
from glassgpt.training.launch import build_trainer, train


def test_a_run_stopped_before_its_first_checkpoint_points_to_overwrite(tmp_path, capsys, text_file):
    run = tmp_path / "run"
    build_trainer(run, config=quick_config(max_steps=5), text=TINY_TEXT).close()  # set up, never trained
    assert (run / "config.json").is_file() and not (run / "state").exists()
    fails(capsys, "train", "--data", text_file, "--out", run, *TINY, match="stopped before its first checkpoint")
    fails(capsys, "train", "--out", run, "--resume", match="start it again with --overwrite")
    fails(capsys, "sample", run, match="--overwrite")
    code, err = cli(capsys, "train", "--data", text_file, "--out", run, "--overwrite", "--max-steps", 2, *TINY)
    assert code == 0, err


def test_an_unfinished_setup_is_rebuilt_by_the_same_command(tmp_path, capsys, text_file):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).write_text("")  # what a kill just after taking the lock leaves
    (run / "tokenizer.json").write_text('{"half')
    (run / ".config.json.x1y2.tmp").write_text("{")
    assert directory.unfinished_setup(run)
    fails(capsys, "eval", run, match="setup did not finish")
    fails(capsys, "train", "--out", run, "--resume", match="--overwrite")
    code, err = cli(capsys, "train", "--data", text_file, "--out", run, "--max-steps", 2, *TINY)
    assert code == 0, err
    assert not (run / ".config.json.x1y2.tmp").exists() and require_run(run) == run
    # with a file of the user's beside the leftovers, only --overwrite goes ahead, and keeps it
    other = tmp_path / "other"
    other.mkdir()
    (other / LOCK).write_text("")
    (other / "notes.txt").write_text("mine")
    fails(capsys, "train", "--data", text_file, "--out", other, *TINY, match="--overwrite")
    code, err = cli(capsys, "train", "--data", text_file, "--out", other, "--overwrite", "--max-steps", 2, *TINY)
    assert code == 0, err
    assert (other / "notes.txt").read_text() == "mine"


def test_an_error_during_setup_leaves_the_folder_as_it_was(tmp_path):
    """Not a kill: an exception (here the disk filling up at the token cache) is cleaned up."""
    for name in ("dry-empty", "empty"):
        (tmp_path / name).mkdir()
    for dry_out, out in (
        (tmp_path / "dry-new" / "run", tmp_path / "new" / "run"),
        (tmp_path / "dry-empty", tmp_path / "empty"),
    ):
        with faults.FileFaults(only=faults.ALLOCATING, root=tmp_path) as dry:  # the same setup, to count
            build_trainer(dry_out, config=quick_config(), text=TINY_TEXT).close()
        k = next(i for i, op in enumerate(dry.ops, 1) if ".val.bin" in op)  # half-way through the token cache
        with faults.FileFaults(fail_at=k, fail=faults.disk_full, only=faults.ALLOCATING, root=tmp_path):
            with pytest.raises(GlassError, match="is full"):
                build_trainer(out, config=quick_config(), text=TINY_TEXT)
        assert not out.exists() or list(out.iterdir()) == []
    assert (tmp_path / "empty").is_dir()  # the user's empty folder stays


SCENARIOS = {
    "new folder": dict(overwrite=False),
    "user's empty folder": dict(overwrite=False),
    "--overwrite of an earlier run": dict(overwrite=True),
}


def target_folder(tmp_path, scenario: str, label: str):
    """The target folder and the user's files around it (which must survive)."""
    parent = tmp_path / label
    parent.mkdir()
    (parent / "keep.txt").write_text("the user's")
    run = parent / "run"
    if scenario == "user's empty folder":
        run.mkdir()
    if scenario == "--overwrite of an earlier run":
        make_run(run, steps=1)
        (run / "notes.txt").write_text("kept by --overwrite")
    return parent, run


def user_files(parent):
    return {k: v for k, v in snapshot(parent).items() if k.name in ("keep.txt", "notes.txt")}


def setup(run, overwrite):
    return build_trainer(run, config=quick_config(max_steps=1), overwrite=overwrite, text=TINY_TEXT)


def released_on_kill(monkeypatch):
    """A killed process's locks go with it: remember the locks setup takes, to drop them."""
    taken = []
    acquire = directory.acquire

    def recording(*args, **kwargs):
        taken.append(acquire(*args, **kwargs))
        return taken[-1]

    monkeypatch.setattr(directory, "acquire", recording)
    return taken


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_kill_at_every_file_operation_of_setup_is_survived(tmp_path, monkeypatch, scenario):
    overwrite = SCENARIOS[scenario]["overwrite"]
    parent, run = target_folder(tmp_path, scenario, "dry-run")
    with faults.FileFaults(root=tmp_path) as dry:
        made = setup(run, overwrite)
    made.close()  # releasing the lock (emptying its details) is not part of setup
    assert dry.count >= 30, dry.ops  # every write of setup is a kill point (the lock, tokenizer, cache, config)
    taken = released_on_kill(monkeypatch)
    for k in range(1, dry.count + 1):
        parent, run = target_folder(tmp_path, scenario, f"kill-{k}")
        mine = user_files(parent)
        with faults.FileFaults(fail_at=k, root=tmp_path) as ops, pytest.raises(faults.SimulatedKill):
            setup(run, overwrite)
        for lock in taken:
            lock.release()
        where = f"killed at {k}: {ops.failed}"
        if (run / "config.json").is_file() and directory.has_checkpoint(run):  # killed before --overwrite cleared it
            assert train(run, resume=True, overrides={"train.max_steps": 2}).steps == 2, where  # still there, whole
        else:
            with pytest.raises(GlassError) as refused:  # --resume: nothing was trained, and it says what to do
                train(run, resume=True)
            assert "--overwrite" in str(refused.value) or "without --resume" in str(refused.value), where
        try:  # the same command builds the run, or says to add --overwrite, which does
            setup(run, overwrite).close()
        except GlassError as exc:
            assert not overwrite and "--overwrite" in str(exc), f"{where}: {exc}"
            setup(run, True).close()
        assert (run / "config.json").is_file() and (run / "data" / "meta.json").is_file(), where
        assert user_files(parent) == mine, where  # nothing of the user's lost
