"""Engines own their random streams and thread settings are scoped: nothing a training run does
to process-wide state (torch/NumPy/Python RNGs, torch and BLAS thread counts, the caller's
configuration) survives it."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch
from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.data.loader import BatchLoader
from glassgpt.threads import get_blas_threads, set_blas_threads
from glassgpt.training.engines import GlassEngine, TorchEngine, split_micro_batches


def global_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state()[1].copy(),
        "python": random.getstate(),
        "torch_threads": torch.get_num_threads(),
        "blas_threads": get_blas_threads(),
    }


def same(a: dict, b: dict) -> bool:
    return (
        torch.equal(a["torch"], b["torch"])
        and np.array_equal(a["numpy"], b["numpy"])
        and a["python"] == b["python"]
        and a["torch_threads"] == b["torch_threads"]
        and a["blas_threads"] == b["blas_threads"]
    )


@pytest.mark.parametrize("engine", ["torch", "glass"])
def test_train_leaves_no_global_rng_or_thread_state(tmp_path, engine):
    torch.manual_seed(123)
    torch.set_num_threads(2)
    old_blas = set_blas_threads(2)
    try:
        cfg = tiny_config(max_steps=6, eval_every=3, threads=1, engine=engine)
        cfg = cfg.updated({"model.dropout": 0.1})
        before_cfg = copy.deepcopy(cfg)
        before = global_state()
        glassgpt.train(tmp_path / "run", config=cfg, text=TINY_TEXT, report=False)
        after = global_state()
        assert same(before, after)
        assert cfg == before_cfg  # the caller's configuration is untouched (vocab_size stays 0)
    finally:
        if old_blas is not None:
            set_blas_threads(old_blas)
        torch.set_num_threads(1)


@pytest.mark.parametrize("make", [TorchEngine, GlassEngine])
def test_interleaved_engines_do_not_share_random_streams(make):
    """Two engines stepping in turn give each the losses it gives alone: each draws its dropout
    masks from its own generator, not from a shared global one."""
    cfg = tiny_config(batch_size=4)
    cfg = cfg.updated({"model.vocab_size": 30, "model.dropout": 0.3})
    tokens = np.random.default_rng(0).integers(0, 30, 2000)

    def run(engines, n=4):
        loaders = [BatchLoader(tokens, 16, 7) for _ in engines]
        out = [[] for _ in engines]
        for _ in range(n):
            for i, (e, loader) in enumerate(zip(engines, loaders)):
                out[i].append(e.train_step(split_micro_batches(*loader.next(4), 4), 1e-3).loss)
        return out

    alone = run([make(cfg)])[0]
    together = run([make(cfg), make(cfg)])
    assert together[0] == alone and together[1] == alone
    torch.manual_seed(0)  # and disturbing the global generator changes nothing either
    assert run([make(cfg)])[0] == alone
