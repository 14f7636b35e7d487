"""The documentation site builds with `mkdocs build --strict`, so a broken link, a missing
anchor, a page left out of the navigation or a bad API reference fails the test suite; the CLI
reference it generates names every command and every option."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glassgpt.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
MISSING = [
    m for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python") if not importlib.util.find_spec(m)
]
needs_docs = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed ({', '.join(MISSING)}): pip install -e '.[docs]'"
)
pytestmark = pytest.mark.docs


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


@needs_docs
def test_the_site_builds_strictly(tmp_path):
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-4000:]
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'href="getting-started/"' in home  # the README, its docs/ links made the site's
    api = (tmp_path / "site" / "api-reference" / "index.html").read_text(encoding="utf-8")
    assert 'id="glassgpt.api.train"' in api and "live=True" in api  # from the docstring
    assert 'id="glassgpt-train"' in (tmp_path / "site" / "cli-reference" / "index.html").read_text(encoding="utf-8")


@needs_docs
def test_a_broken_link_fails_the_build(tmp_path):
    """The same site with one link to a page that does not exist."""
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("_hooks"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    with (docs / "training.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [the old page](no-such-page.md).\n")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("docs_dir: docs", f"docs_dir: {docs}").replace("- docs/_hooks/", f"- {ROOT}/docs/_hooks/")
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "no-such-page.md" in done.stderr, done.stderr[-2000:]


def reference() -> str:
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "docs" / "_hooks" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference()


def options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from options(child)
        else:
            yield from action.option_strings


@needs_docs
def test_the_cli_reference_names_every_command_and_option():
    page = reference()
    for name in COMMANDS:
        parser = build_parser(name)
        (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        assert f"## glassgpt {name}\n" in page, name
        for option in options(commands.choices[name]):
            assert f"`{option}" in page or f", {option}" in page, f"{name} {option}"
    assert "| `--log BACKEND` | also log to an experiment tracker" in page
