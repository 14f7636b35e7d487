"""One tiny trained run (with diagnostics and a learning-rate sweep) shared by the report tests."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from glassgpt.config import RunConfig

REPORT_TEXT = (
    "the quick brown fox jumps over the lazy dog.\n"
    "pack my box with five dozen liquor jugs!\n"
    "how vexingly quick daft zebras jump.\n"
) * 40


def report_config(**train) -> RunConfig:
    """Two layers, two heads, width 32: trains in a second or two."""
    cfg = RunConfig()
    cfg.preset = "test"
    m, t = cfg.model, cfg.train
    m.n_layer, m.n_head, m.n_embd, m.block_size = 2, 2, 32, 16
    t.batch_size, t.max_steps, t.lr, t.warmup_steps = 8, 40, 3e-3, 5
    t.eval_every, t.eval_batches, t.log_every, t.save_every = 20, 2, 5, 20
    t.diagnostics_every = 10
    cfg.data.corpus, cfg.data.tokenizer, cfg.data.val_fraction = "", "char", 0.1
    for k, v in train.items():
        setattr(t, k, v)
    return cfg


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """A finished run whose end-of-training hook wrote plots/ and report.html, plus lr_finder.json."""
    from glassgpt.training.lr_finder import find_lr
    from glassgpt.training.trainer import train

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
