"""What a kill -9 during a checkpoint leaves behind: no reader ever sees weights older than the
checkpoint, and the next start removes the temporary files killed writes left (only the run's
own) and copies the checkpoint's weights to the top-level file again.

Each kill is real: a forked process saves a checkpoint and ends on the spot (``os._exit``, as
``kill -9`` would: no cleanup, no ``finally``) at one chosen file operation
(``support.faults``); every operation of the save is tried."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support import faults
from support.runs import cli, make_run

from glassgpt.fileio import load_tensors, save_tensors
from glassgpt.models.from_run import load_run, load_weights
from glassgpt.rundir import checkpoint, weights_path
from glassgpt.rundir.layout import SCRATCH, STATE_MODEL

#: a user's files that look like scratch but are not the run's own names
USERS = (".notes.tmp", ".model.safetensors.tmp", "model.safetensors.backup.tmp")


def _next_checkpoint(run):
    """What the next save of ``run`` writes: its weights changed, one step later."""
    weights, optim, rng, trainer = checkpoint.load(run)
    weights = {name: t + 1.0 if t.is_floating_point() else t for name, t in weights.items()}
    return weights, optim, rng, {**trainer, "step": trainer["step"] + 1}


def _save_killed_at(run, saved, k: int | None) -> int:
    """Save ``saved`` into ``run`` in a forked process that ends with status 137 at file
    operation ``k`` (None: not at all); the exit status."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        status = 0
        try:
            with faults.FileFaults(fail_at=k, fail=faults.hard_exit, root=run):
                checkpoint.save(run, *saved)
        except BaseException:  # noqa: BLE001
            status = 1
        os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _scratch(run) -> list[str]:
    return sorted(p.name for p in run.iterdir() if any(fnmatch.fnmatch(p.name, s) for s in SCRATCH))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    run = tmp_path_factory.mktemp("killed") / "base"
    make_run(run, steps=2)
    copy = run.parent / "dry"
    shutil.copytree(run, copy)
    saved = _next_checkpoint(copy)
    with faults.FileFaults(root=copy) as dry:  # the save to be killed, counted on a copy
        checkpoint.save(copy, *saved)
    return run, dry.ops


def test_every_kill_during_a_save_leaves_readers_the_checkpoints_weights(base, tmp_path):
    run0, ops = base
    assert any(op.startswith("shutil.copyfile") for op in ops)  # the top-level copy is among them
    left, stale = [], []
    for k in range(1, len(ops) + 1):
        run = tmp_path / f"k{k}"
        shutil.copytree(run0, run)
        for name in USERS:
            (run / name).write_text("the user's")
        saved = _next_checkpoint(run)
        assert _save_killed_at(run, saved, k) == 137, ops[k - 1]
        newest = checkpoint.newest(run)  # read-only, as a reader finds it: no lock, nothing moved
        expected = load_tensors(newest / STATE_MODEL)
        step = checkpoint.saved_step(run)
        if checkpoint.weights_step(run / "model.safetensors") not in (None, step):
            stale.append(ops[k - 1])
        left += [(ops[k - 1], name, (run / name).stat().st_size) for name in _scratch(run)]
        # a reader (sample, eval) never gets weights older than the checkpoint
        got = load_weights(run)
        assert all(torch.equal(got[n], expected[n]) for n in expected), ops[k - 1]
        assert checkpoint.weights_step(weights_path(run)) == step, ops[k - 1]
        # the next start (what --resume does under the writer lock) removes the run's scratch, keeps the user's
        state = checkpoint.recover(run)
        assert state == run / "state" and _scratch(run) == [], ops[k - 1]
        assert all((run / name).read_text() == "the user's" for name in USERS)
        assert (run / "model.safetensors").read_bytes() == (state / STATE_MODEL).read_bytes(), ops[k - 1]
        assert weights_path(run) == run / "model.safetensors"
        shutil.rmtree(run)
    # the sweep met both faults of the audit: a full-size temporary copy of the weights, and a
    # top-level file one checkpoint behind
    size = (run0 / "model.safetensors").stat().st_size
    assert any(name.startswith(".model.safetensors.") and n == size for _, name, n in left), left
    assert stale, "no kill landed between the swap and the copy"


#: a resumed run killed (os._exit(137)) at the copy of the weights after its first checkpoint:
#: a dry run on a copy of the run counts the operations to get there
RESUME_KILLED = """
import shutil, sys
from support import faults
from glassgpt.cli import main
run, dry = sys.argv[1], sys.argv[2]
argv = ["train", "--out", run, "--resume", "--max-steps", "4", "--quiet"]
shutil.copytree(run, dry)
with faults.FileFaults(root=dry) as ops:
    assert main([a.replace(run, dry) for a in argv]) == 0
k = next(i for i, op in enumerate(ops.ops, 1) if op.startswith("shutil.copyfile"))
with faults.FileFaults(fail_at=k, fail=faults.hard_exit, root=run):
    main(argv)
"""


def test_resume_after_a_kill_between_the_swap_and_the_copy(base, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(base[0], run)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1", "GLASSGPT_REPORT": "0"}
    child = subprocess.run([sys.executable, "-c", RESUME_KILLED, str(run), str(tmp_path / "dry")], env=env)
    assert child.returncode == 137
    assert checkpoint.saved_step(run) == 3 and checkpoint.weights_step(run / "model.safetensors") == 2
    expected = load_tensors(run / "state" / STATE_MODEL)  # sample and eval read step 3, not 2
    assert all(t.equal(expected[name]) for name, t in load_run(run).model.weights().items())
    assert checkpoint.weights_step(weights_path(run)) == 3
    code, err = cli(capsys, "train", "--out", run, "--resume", "--max-steps", 4, "--quiet")
    assert code == 0, err
    assert _scratch(run) == [] and checkpoint.weights_step(run / "model.safetensors") == 4
    assert (run / "model.safetensors").read_bytes() == (run / "state" / STATE_MODEL).read_bytes()


def test_a_users_own_weights_file_is_never_taken_for_a_stale_copy(tmp_path):
    run = tmp_path / "run"
    make_run(run, steps=2)
    mine = {name: torch.zeros_like(t) for name, t in load_tensors(run / "model.safetensors").items()}
    save_tensors(run / "model.safetensors", mine)  # the same tensors, no step recorded: the user's edit
    assert weights_path(run) == run / "model.safetensors"
    assert all(t.abs().sum() == 0 for t in load_weights(run).values())
    save_tensors(run / "model.safetensors", mine, {"step": "1"})  # an older step of the same tensors: stale
    assert weights_path(run) == run / "state" / STATE_MODEL
