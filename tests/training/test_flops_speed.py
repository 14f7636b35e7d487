"""FLOPs per token, the peak table and MFU; the GPU switches turning off on the CPU."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.config import ModelConfig, resolve
from glassgpt.models import GPT
from glassgpt.rundir import read_metrics
from glassgpt.training import speed
from glassgpt.training.flops import Throughput, flops_per_token, matmul_parameters, mfu, peak_flops
from glassgpt.training.speed import plan_speed


def gpt2_shape(**kw) -> ModelConfig:
    return dataclasses.replace(resolve("gpt2").model, vocab_size=50257, **kw)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"tie_weights": False},
        {"bias": False, "qkv_bias": False},
        {"norm": "rmsnorm", "pos": "rope", "d_ff": 1000},
        {"tie_weights": False, "head_bias": True},
    ],
)
def test_n_counts_every_parameter_but_the_embedding_lookups(options):
    cfg = gpt2_shape(**options)
    with torch.device("meta"):
        model = GPT(cfg)
    lookups = {"transformer.wpe.weight"} | ({"transformer.wte.weight"} if not cfg.tie_weights else set())
    expected = sum(p.numel() for n, p in model.named_parameters() if n not in lookups)
    assert matmul_parameters(cfg) == expected


def test_gpt2_124m_flops_per_token():
    cfg = gpt2_shape()
    assert cfg.padded_vocab_size == 50304
    # 124,475,904 parameters with the padded table, less the 1024×768 position table
    assert matmul_parameters(cfg) == 124_475_904 - 786_432
    assert flops_per_token(cfg, 1024) == 6 * 123_689_472 + 12 * 12 * 768 * 1024 == 855_383_040


def test_the_peak_table_knows_gpus_by_name_and_precision():
    assert peak_flops("NVIDIA H100 80GB HBM3", "bf16") == pytest.approx(989.4e12)
    assert peak_flops("NVIDIA H100 PCIe", "bf16") == pytest.approx(756e12)
    assert peak_flops("NVIDIA H200", "tf32") == pytest.approx(494.7e12)
    assert peak_flops("NVIDIA A100-SXM4-80GB", "fp32") == pytest.approx(19.5e12)
    assert peak_flops("NVIDIA L4", "bf16") == pytest.approx(121e12)
    assert peak_flops("NVIDIA L40S", "bf16") == pytest.approx(362.1e12)
    assert peak_flops("NVIDIA GeForce RTX 4090", "bf16") == pytest.approx(165.2e12)
    assert peak_flops("NVIDIA H100 NVL", "bf16") is None
    assert peak_flops("Tesla T4", "fp32") is None
    assert mfu(1000.0, 6e9, 1e13, devices=2) == pytest.approx(0.3) and mfu(1000.0, 6e9, None) is None


def test_metrics_carry_achieved_flops_and_mfu_against_a_given_peak(tmp_path):
    cfg = tiny_config(max_steps=4, log_every=2, eval_every=0, peak_flops=2e9, threads=1)
    glassgpt.train(tmp_path / "run", config=cfg, text=TINY_TEXT, report=False)
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    per_token = flops_per_token(ModelConfig(**stored["model"]), 16)
    for record in read_metrics(tmp_path / "run"):
        assert record["flops_per_sec"] == pytest.approx(record["tokens_per_sec"] * per_token)
        assert record["mfu"] == pytest.approx(record["flops_per_sec"] / 2e9)
    without = tiny_config(max_steps=2, log_every=1, eval_every=0, threads=1)
    glassgpt.train(tmp_path / "plain", config=without, text=TINY_TEXT, report=False)
    assert all("mfu" not in r and r["flops_per_sec"] > 0 for r in read_metrics(tmp_path / "plain"))
    assert Throughput(10.0).record(3.0) == {"flops_per_sec": 30.0}


@pytest.mark.parametrize("native", [False, True])
def test_the_gpu_switches_are_off_on_the_cpu_and_say_so(native, monkeypatch):
    monkeypatch.setattr(speed, "cpu_bfloat16", lambda: native)  # bf16 autocast: on a CPU with native bfloat16
    t = resolve("gpt2").train
    assert (t.dtype, t.tf32, t.compile, t.flash) == ("bfloat16", True, True, True)
    plan = plan_speed(t, torch.device("cpu"))
    assert (plan.bf16, plan.tf32, plan.compile, plan.flash) == (native, False, False, False)
    assert plan.dtype == ("bfloat16" if native else "float32")
    bf16 = "" if native else "bf16 autocast (this CPU has no native bfloat16); "
    assert plan.note() == (f"off here: {bf16}TF32 (CUDA only); torch.compile (CUDA only); flash attention (CUDA only)")
    assert plan_speed(tiny_config().train, torch.device("cpu")).note() == ""
    assert "bf16 autocast (CUDA or CPU only)" in plan_speed(t, torch.device("mps")).note()
    before = torch.backends.cuda.matmul.allow_tf32
    with plan.active():
        assert torch.backends.cuda.matmul.allow_tf32 == before


@pytest.mark.gpu
def test_the_gpu_switches_are_on_on_a_gpu():
    t = resolve("gpt2").train
    plan = plan_speed(t, torch.device("cuda"))
    assert plan.tf32 and plan.compile and plan.bf16 == torch.cuda.is_bf16_supported()
    assert plan.flash == plan.bf16
    assert plan_speed(t, torch.device("cuda"), doc_mask=True).flash is False
    before = torch.backends.cuda.matmul.allow_tf32
    with plan.active():
        assert torch.backends.cuda.matmul.allow_tf32 is True
    assert torch.backends.cuda.matmul.allow_tf32 == before
