"""Shared fixtures: tiny configurations and texts so tests never need the network or ../shared."""

from __future__ import annotations

import pytest
import torch

from glassgpt.config import RunConfig

TINY_TEXT = (
    "the quick brown fox jumps over the lazy dog.\n"
    "pack my box with five dozen liquor jugs!\n"
    "how vexingly quick daft zebras jump.\n"
) * 40


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch):
    torch.set_num_threads(1)  # same results and less contention on small CPU runners
    # the end-of-run figures and report cost seconds per run; tests/report turns them back on
    monkeypatch.setenv("GLASSGPT_REPORT", "0")
    yield


def tiny_config(**train) -> RunConfig:
    """A two-layer char model that trains in a second or two on TINY_TEXT."""
    cfg = RunConfig()
    cfg.preset = "test"
    m, t = cfg.model, cfg.train
    m.n_layer, m.n_head, m.n_embd, m.block_size = 2, 2, 32, 16
    t.batch_size, t.max_steps, t.lr, t.warmup_steps = 8, 40, 3e-3, 5
    t.eval_every, t.eval_batches, t.log_every, t.save_every = 20, 2, 5, 20
    cfg.data.corpus, cfg.data.tokenizer, cfg.data.val_fraction = "", "char", 0.1
    for k, v in train.items():
        setattr(t, k, v)
    return cfg


@pytest.fixture
def tiny_cfg() -> RunConfig:
    return tiny_config()


@pytest.fixture
def tiny_text() -> str:
    return TINY_TEXT
