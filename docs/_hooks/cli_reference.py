"""mkdocs hook: the CLI reference page (``cli-reference.md``), generated from the argparse
parsers of ``glassgpt`` (``glassgpt.cli.build_parser``) every time the site is built, so it
cannot drift from the commands.  Every command and subcommand: its usage, its description and a
table of its options with their help and defaults, as ``glassgpt COMMAND --help`` prints them.

    python docs/_hooks/cli_reference.py      # prints the page
"""

from __future__ import annotations

import argparse
import html
import os

from mkdocs.structure.files import File

PAGE = "cli-reference.md"
#: the width the help texts are wrapped to (argparse reads COLUMNS)
WIDTH = "100"


def _cell(text: str) -> str:
    """Help text as a table cell: one line, ``<`` and ``>`` escaped (not tags), ``|`` escaped (not a column)."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    rows = ["| option | what it does |", "|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            name = ", ".join(action.option_strings)
            if action.nargs != 0:
                name += " " + formatter._format_args(action, formatter._get_default_metavar_for_optional(action))
        else:
            name = formatter._format_args(action, formatter._get_default_metavar_for_positional(action))
        name = " ".join(name.split())
        rows.append(f"| `{name}` | {_cell(formatter._expand_help(action)) if action.help else ''} |")
    return rows


def _section(parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines = [f"{'#' * level} {parser.prog}", "", "```text", parser.format_usage().strip()]
    if parser.description:
        lines += ["", parser._get_formatter()._format_text(parser.description).rstrip()]
    lines += ["```", "", *_options(parser), ""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # an alias names the same parser
                lines += _section(child, level + 1)
    return lines


def reference() -> str:
    """The page's Markdown."""
    from glassgpt.cli import COMMANDS, build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        lines = [
            "# CLI reference",
            "",
            "Every command and option of `glassgpt`, generated from its argument parsers when this site",
            "is built (so it says exactly what `glassgpt COMMAND --help` says). [The command line](cli.md)",
            "explains the commands with examples.",
            "",
        ]
        for name in COMMANDS:
            parser = build_parser(name)
            (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            lines += _section(commands.choices[name], 2)
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(lines) + "\n"


def on_files(files, config):
    """Add the generated page to the site."""
    files.append(File.generated(config, PAGE, content=reference()))
    return files


if __name__ == "__main__":
    print(reference(), end="")
