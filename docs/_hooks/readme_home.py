"""mkdocs hook: the site's home page is the README, so the landing page is written once.

The README links to the pages as ``docs/NAME.md`` (right on GitHub); on the site they sit next
to the home page, so the prefix is dropped.  The other way round, a page's link to
``../README.md`` leads to the home page.  Any other link out of ``docs/`` stays an error of the
strict build.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

PAGE = "index.md"


def home(readme: Path) -> str:
    """The README's Markdown with its ``docs/`` links made relative to the site."""
    return re.sub(r"\]\(docs/", "](", readme.read_text(encoding="utf-8"))


def on_files(files, config):
    readme = Path(config["config_file_path"]).parent / "README.md"
    files.append(File.generated(config, PAGE, content=home(readme)))
    return files


def on_page_markdown(markdown, page, config, files):
    """A page's links to the README lead to the home page."""
    return markdown.replace("](../README.md", "](index.md")
