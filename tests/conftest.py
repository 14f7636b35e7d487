"""Shared fixtures: tiny configurations and texts so tests never need the network or files outside the repository."""

from __future__ import annotations

import pytest
import torch
from tinyrun import TINY_TEXT, tiny_config

from glassgpt.config import RunConfig
from glassgpt.threads import ThreadPlan
from glassgpt.training import trainer


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def pinned_plan(requested: int, **_) -> ThreadPlan:
    """Runs in tests use the count they ask for, or 1: "auto" would depend on the machine's
    load, and the LayerNorm backward's sums depend on the thread count (tests/training/test_threads.py)."""
    n = requested or 1
    return ThreadPlan(n, n, False, f"{n} threads (pinned by the test suite)")


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch):
    torch.set_num_threads(1)  # same results and less contention on small CPU runners
    monkeypatch.setattr(trainer, "plan_threads", pinned_plan)
    # the end-of-run figures and report cost seconds per run; tests/report turns them back on
    monkeypatch.setenv("GLASSGPT_REPORT", "0")
    yield


@pytest.fixture
def tiny_cfg() -> RunConfig:
    return tiny_config()


@pytest.fixture
def tiny_text() -> str:
    return TINY_TEXT
