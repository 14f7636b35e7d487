"""Shared fixtures: tiny configurations and texts so tests never need the network or files outside
the repository, and the fixtures that tests in several folders use.  Helpers that tests import
live in tests/support (``from support.tinyrun import ...``); conftest files hold only fixtures
and hooks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from support.chatrun import base, chat  # noqa: F401 - fixtures, found by name
from support.distrun import Jobs
from support.runs import Processes
from support.scaledata import make_docs
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.config import RunConfig
from glassgpt.threads import ThreadPlan
from glassgpt.tokenizers import BPETokenizer
from glassgpt.training import launch, trainer


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def pinned_plan(requested: int, **_) -> ThreadPlan:
    """Runs in tests use the count they ask for, or 1: "auto" would depend on the machine's
    load, and the LayerNorm backward's sums depend on the thread count (tests/threads/test_threads.py)."""
    n = requested or 1
    return ThreadPlan(n, n, False, f"{n} threads (pinned by the test suite)")


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch):
    torch.set_num_threads(1)  # same results and less contention on small CPU runners
    monkeypatch.setattr(trainer, "plan_threads", pinned_plan)
    monkeypatch.setattr(launch, "training_threads", lambda ranks_here=1: 1)  # what derive records
    # the end-of-run figures and report cost seconds per run; tests/report turns them back on
    monkeypatch.setenv("GLASSGPT_REPORT", "0")
    yield


@pytest.fixture
def tiny_cfg() -> RunConfig:
    return tiny_config()


@pytest.fixture
def tiny_text() -> str:
    return TINY_TEXT


@pytest.fixture
def text_file(tmp_path) -> Path:
    """TINY_TEXT in a file, for commands that read --data."""
    f = tmp_path / "text.txt"
    f.write_text(TINY_TEXT)
    return f


@pytest.fixture
def processes():
    """Real ``glassgpt`` processes (tests/support/runs.py); every one still running is killed when the test ends."""
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def jobs():
    """Real torchrun jobs (tests/support/distrun.py); whatever is still running when the test ends is killed."""
    started = Jobs()
    yield started
    started.stop_all()


@pytest.fixture(scope="session")
def bpe_file(tmp_path_factory):
    """A 400-token gpt4-pattern BPE tokenizer file with <|endoftext|>, built on the spot (no network)."""
    tok = BPETokenizer.train("".join(make_docs(60, seed=99)), vocab_size=400, special_tokens=["<|endoftext|>"])
    path = tmp_path_factory.mktemp("tok") / "bpe.json"
    tok.save(path)
    return path


@pytest.fixture(scope="session")
def bpe(bpe_file):
    return BPETokenizer.load(bpe_file)
