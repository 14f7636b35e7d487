"""The top-level model.safetensors is the user's copy: damaging it never reaches the
checkpoint, --resume stays exact, and sample/eval say what is wrong with it."""

from __future__ import annotations

import os
import shutil

import pytest
from support.runs import cli, fails, make_run, quick_config
from support.tinyrun import TINY_TEXT

from glassgpt.training.launch import train


def damage(kind: str, run, other):
    weights = run / "model.safetensors"
    if kind == "truncate":
        os.truncate(weights, 100)
    elif kind == "overwrite in place":
        with open(weights, "r+b") as f:  # what a script opening the file for writing does
            f.write(b"\0" * 64)
    elif kind == "cp another model over it":
        shutil.copyfile(other / "model.safetensors", weights)  # cp writes into the existing file


@pytest.mark.parametrize("kind", ["truncate", "overwrite in place", "cp another model over it"])
def test_damage_to_the_top_level_weights_leaves_resume_exact(tmp_path, capsys, kind):
    straight = tmp_path / "straight"
    make_run(straight, steps=4)
    run, other = tmp_path / "run", tmp_path / "other"
    make_run(run, steps=2)
    narrow = quick_config(max_steps=1)
    narrow = narrow.updated({"model.n_embd": 16})
    train(other, config=narrow, text=TINY_TEXT)
    assert os.stat(run / "model.safetensors").st_ino != os.stat(run / "state" / "model.safetensors").st_ino
    damage(kind, run, other)
    what = "does not match config.json" if kind.startswith("cp") else "corrupted"
    for command in ("sample", "eval"):
        err = fails(capsys, command, run, match=what)
        assert f"cp {run / 'state' / 'model.safetensors'} {run / 'model.safetensors'}" in err
    code, err = cli(capsys, "train", "--out", run, "--resume", "--max-steps", 4, "--quiet")
    assert code == 0, err
    for name in ("state/model.safetensors", "state/optimizer.safetensors", "model.safetensors"):
        assert (run / name).read_bytes() == (straight / name).read_bytes(), name  # exact, and repaired
