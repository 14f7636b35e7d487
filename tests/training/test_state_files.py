"""State files that parse but lie are refused before resuming, one sentence per problem;
a step log that lost records is refused unless the user accepts it."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from support.runs import cli, fails, make_run
from support.tinyrun import TINY_TEXT

from glassgpt.rundir import read_metrics
from glassgpt.training import state_check
from glassgpt.training.engines import make_engine
from glassgpt.training.launch import train


@pytest.fixture
def run(tmp_path):
    run = tmp_path / "run"
    make_run(run, steps=3)
    return run


def state(run, name):
    return run / "state" / name


def test_an_empty_optimizer_file_is_refused_naming_the_missing_tensors(run, capsys):
    save_file({}, state(run, "optimizer.safetensors"))
    err = fails(
        capsys, "train", "--out", run, "--resume", "--max-steps", 5, match="optimizer.safetensors holds no tensors"
    )
    assert "transformer.wte.weight.exp_avg" in err and "--overwrite" in err


def test_an_empty_rng_file_is_refused(run, capsys):
    save_file({}, state(run, "rng.safetensors"))
    fails(
        capsys,
        "train",
        "--out",
        run,
        "--resume",
        "--max-steps",
        5,
        match="rng.safetensors holds no tensors (it should hold 1: torch_cpu)",
    )


def test_an_empty_trainer_json_is_refused_naming_the_missing_keys(run, capsys):
    state(run, "trainer.json").write_text("{}")
    fails(
        capsys,
        "train",
        "--out",
        run,
        "--resume",
        "--max-steps",
        5,
        match="trainer.json lacks the keys step, tokens, elapsed_s, loader_rng",
    )


def test_every_problem_gets_its_own_sentence(run, capsys):
    optim = load_file(state(run, "optimizer.safetensors"))
    optim.pop("transformer.h.0.ln_1.bias.exp_avg")
    optim["transformer.wpe.weight.exp_avg"] = optim["transformer.wpe.weight.exp_avg"][:3]
    optim["made.up.exp_avg"] = torch.zeros(2)
    save_file(optim, state(run, "optimizer.safetensors"))
    weights = load_file(state(run, "model.safetensors"))
    weights["transformer.ln_f.weight"] = weights["transformer.ln_f.weight"].double()
    save_file(weights, state(run, "model.safetensors"))
    trainer = json.loads(state(run, "trainer.json").read_text())
    trainer["step"], trainer["loader_rng"] = -1, {"bit_generator": "PCG64"}
    state(run, "trainer.json").write_text(json.dumps(trainer))
    err = fails(capsys, "train", "--out", run, "--resume", "--max-steps", 5, match="does not fit this run")
    for sentence in (
        "optimizer.safetensors lacks 1 of its",
        "transformer.h.0.ln_1.bias.exp_avg",
        "1 tensors this model does not have (made.up.exp_avg)",
        "transformer.wpe.weight.exp_avg has shape (3, 32) but should have shape (16, 32)",
        "transformer.ln_f.weight is float64 but should be float32",
        "step is -1, not a whole number of steps",
        "loader_rng is not a valid random-generator state",
    ):
        assert sentence in err, sentence


def test_optimizer_state_from_another_checkpoint_is_refused(run, tmp_path, capsys):
    other = tmp_path / "other"
    make_run(other, steps=2)
    state(run, "optimizer.safetensors").write_bytes(state(other, "optimizer.safetensors").read_bytes())
    fails(capsys, "train", "--out", run, "--resume", "--max-steps", 5, match="counts 2 steps")


def test_the_schema_is_what_a_real_checkpoint_holds(run, tiny_cfg):
    """Built from a fresh engine, it accepts the checkpoints both engines write."""
    cfg = json.loads((run / "config.json").read_text())
    for engine in ("torch", "glass"):
        trained = train(
            run.parent / engine,
            config=tiny_cfg.__class__.from_dict({**cfg, "train": {**cfg["train"], "engine": engine, "max_steps": 2}}),
            text=TINY_TEXT,
        )
        files = [
            load_file(state(trained.run_dir, f))
            for f in ("model.safetensors", "optimizer.safetensors", "rng.safetensors")
        ]
        trainer = json.loads(state(trained.run_dir, "trainer.json").read_text())
        for fresh in ("torch", "glass"):  # either engine may resume either engine's run
            fresh_cfg = tiny_cfg.__class__.from_dict({**cfg, "train": {**cfg["train"], "engine": fresh}})
            schema = state_check.expected_state(make_engine(fresh_cfg))
            assert state_check.problems(schema, *files, trainer) == [], (engine, fresh)
            assert len(schema.required["optimizer.safetensors"]) == 3 * len(files[0])


def test_a_truncated_metrics_log_is_refused_unless_accepted(run, capsys):
    metrics = run / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    assert len(lines) == 3
    metrics.write_text(lines[0] + lines[1][:10])  # cut in the middle of the second record
    err = fails(capsys, "train", "--out", run, "--resume", "--max-steps", 5, match="--accept-truncated-logs")
    assert "metrics.jsonl has 1 of the 3 records it had up to step 3" in err
    code, err = cli(capsys, "train", "--out", run, "--resume", "--max-steps", 5, "--accept-truncated-logs", "--quiet")
    assert code == 0 and "lost records" in err, err
    assert [r["step"] for r in read_metrics(run)] == [1, 4, 5]
    code, err = cli(capsys, "train", "--out", run, "--resume", "--max-steps", 6, "--quiet")  # counted afresh
    assert code == 0, err


def test_a_torn_line_after_the_checkpoint_is_not_a_loss(run, capsys):
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "train_lo')  # a kill while logging the step after the checkpoint
    code, err = cli(capsys, "train", "--out", run, "--resume", "--max-steps", 5, "--quiet")
    assert code == 0, err
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3, 4, 5]
