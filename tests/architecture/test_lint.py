"""The habits that keep the tree tidy, run with the tests: ruff's lint rules and formatter and
mypy on the strictly typed modules, all configured in pyproject.toml (and run before each
commit by .pre-commit-config.yaml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = ["glassgpt", "tests", "benchmarks", "notebooks", "docs/_hooks"]


def tool(name: str) -> list[str]:
    """The tool from this environment (the test run's own Python)."""
    exe = Path(sys.executable).parent / name
    if exe.is_file():
        return [str(exe)]
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; pip install -e '.[dev]' installs it")
    return [found]


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing_to_fix():
    done = run(*tool("ruff"), "check", *TREES)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_every_file_is_formatted():
    done = run(*tool("ruff"), "format", "--check", *TREES)
    assert done.returncode == 0, "run `ruff format`:\n" + done.stdout[-4000:]


def test_the_strictly_typed_modules_type_check():
    done = run(*tool("mypy"))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
