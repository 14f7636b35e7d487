"""Shared fixtures: tiny configurations and texts so tests never need the network or files outside the repository."""

from __future__ import annotations

import pytest
import torch
from tinyrun import TINY_TEXT, tiny_config

from glassgpt.config import RunConfig


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


@pytest.fixture
def tiny_cfg() -> RunConfig:
    return tiny_config()


@pytest.fixture
def tiny_text() -> str:
    return TINY_TEXT
