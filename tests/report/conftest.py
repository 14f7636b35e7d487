"""One tiny trained run (with diagnostics and a learning-rate sweep) shared by the report tests."""

from __future__ import annotations

import os
import shutil

import pytest
import torch
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.config import RunConfig

REPORT_TEXT = TINY_TEXT


def report_config(**train) -> RunConfig:
    """The shared tiny config (two layers, width 32) with diagnostics every 10 steps."""
    return tiny_config(**{"diagnostics_every": 10, **train})


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """A finished run whose end-of-training hook wrote plots/ and report.html, plus lr_finder.json."""
    from glassgpt.api import train
    from glassgpt.training.lr_finder import find_lr

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("report") / "run"
    old = os.environ.get("GLASSGPT_REPORT")
    os.environ["GLASSGPT_REPORT"] = "1"  # the suite may turn the end-of-run report off elsewhere
    try:
        train(out, config=report_config(), text=REPORT_TEXT)
    finally:
        if old is None:
            os.environ.pop("GLASSGPT_REPORT", None)
        else:
            os.environ["GLASSGPT_REPORT"] = old
    find_lr(out, start=1e-4, end=1.0, steps=8)
    return out


@pytest.fixture
def run_copy(report_run, tmp_path):
    """A private copy of the shared run that a test may damage."""
    dst = tmp_path / "copy"
    shutil.copytree(report_run, dst)
    return dst


@pytest.fixture
def make_config():
    """``make_config(**train)``: the tiny configuration of the shared run (train overrides)."""
    return report_config


@pytest.fixture
def report_text() -> str:
    return REPORT_TEXT


@pytest.fixture(scope="session")
def full_report(report_run):
    """report.html rewritten after the sweep, so every figure is on the page; its path."""
    from glassgpt.report import write_report

    return write_report(report_run).path
