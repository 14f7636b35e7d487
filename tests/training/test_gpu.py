"""On a GPU: float32 steps equal the CPU's, the GPT-2 switches run, and DDP/FSDP run over NCCL
(two GPUs).  Skipped without CUDA (tests/conftest.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.distrun import MODEL
from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.fileio import load_tensors
from glassgpt.rundir import read_metrics
from glassgpt.training.engines import TorchEngine, split_micro_batches

pytestmark = pytest.mark.gpu


def first_losses(device: str, steps: int = 5) -> list[float]:
    cfg = tiny_config(device=device, batch_size=8)
    cfg = cfg.updated({"model.vocab_size": 40})
    engine = TorchEngine(cfg)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        x, y = rng.integers(0, 40, (8, 16)), rng.integers(0, 40, (8, 16))
        losses.append(engine.train_step(split_micro_batches(x, y, 8), 3e-3).loss)
    return losses


def test_float32_steps_on_the_gpu_equal_the_cpus():
    # the same weights and batches; cuBLAS and the CPU sum in other orders (float32: ~1e-6 relative)
    cpu, gpu = first_losses("cpu"), first_losses("cuda")
    assert max(abs(a - b) for a, b in zip(cpu, gpu)) <= 1e-4


def test_the_gpu_switches_train(tmp_path):
    cfg = tiny_config(
        device="cuda", max_steps=6, dtype="bfloat16", tf32=True, flash=True, compile=False, peak_flops=0.0, log_every=1
    )
    result = glassgpt.train(tmp_path / "run", config=cfg, text=TINY_TEXT, report=False)
    assert result.steps == 6 and np.isfinite(result.final["loss"])
    records = read_metrics(tmp_path / "run")
    assert all(r["flops_per_sec"] > 0 for r in records)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_gpus_over_nccl_equal_one_with_two_micro_batches(tmp_path, jobs, mode, capsys):
    text = tmp_path / "tiny.txt"
    text.write_text(TINY_TEXT)
    common = ["--data", text, *MODEL, "--max-steps", 8, "--device", "cuda", "--set", "train.eval_every=4", "--quiet"]
    done = jobs.run(
        2, "train", "--out", tmp_path / mode, *common, "--set", "train.batch_size=4", "--set", f"train.parallel={mode}"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        glassgpt.cli.main(
            [
                "train",
                "--out",
                str(tmp_path / "one"),
                *map(str, common),
                "--set",
                "train.batch_size=4",
                "--set",
                "train.grad_accum=2",
            ]
        )
        == 0
    )
    capsys.readouterr()
    a, b = load_tensors(tmp_path / mode / "model.safetensors"), load_tensors(tmp_path / "one" / "model.safetensors")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-4
    assert json.loads((tmp_path / mode / "summary.json").read_text())["steps"] == 8
