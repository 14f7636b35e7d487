"""Every ``--option`` a message names exists on the command that prints it.

The sentences come from the source itself: every string literal in glassgpt/ (docstrings
left out) that names an ``--option``.  A message belongs to the commands that can print it:
``glassgpt/cli/<command>.py`` to that command, and the library modules in ``REACHED_BY`` to
the commands listed there (only modules whose messages clearly reach those commands alone;
a shared module whose sentence depends on the command, like rundir/directory.py, is tested
by running each command instead: tests/cli/test_wrong_way_messages.py).  Within a message,
options after ``glassgpt OTHER`` belong to OTHER (``... with glassgpt train --resume``), and
options after ``pip`` or ``torchrun`` to those tools.  The options a command has are read
from its parser (``glassgpt.cli.build_parser``), its subcommands' included."""

from __future__ import annotations

import argparse
import ast
import re
from functools import cache
from pathlib import Path

import pytest

from glassgpt.cli import COMMANDS, RUNS_A_MODEL, build_parser

PACKAGE = Path(__file__).resolve().parents[2] / "glassgpt"

#: library module -> the commands whose users see its messages
REACHED_BY = {
    "stages/finetune.py": ("finetune",),
    "data/conversation_rows.py": ("finetune",),
    "interop/hf.py": ("export", "import-hf"),
    "interop/hf_tokenizer.py": ("import-hf",),
    "serve/app.py": ("serve",),
    "serve/session.py": ("chat", "serve"),
    "serve/terminal_chat.py": ("chat",),
    "data/prepare.py": ("data",),
    "data/sources.py": ("data",),
    "evaluation/loss.py": ("eval",),
    "evaluation/multiple_choice.py": ("eval",),
    "explain.py": ("explain",),
    "training/gradcheck.py": ("gradcheck",),
    "makemore/gradcheck.py": ("gradcheck",),
    "training/launch.py": ("train",),
    "config/resolve.py": ("train",),
    "threads.py": (*RUNS_A_MODEL, "gradcheck"),
    "device.py": RUNS_A_MODEL,
}

OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
#: where a message switches to another command's or another tool's options, and where that ends
OWNER = re.compile(r"\bglassgpt ([a-z][a-z-]*)|\b(pip|torchrun)\b")
BOUNDARY = re.compile(r"[`;)]|\.(?:\s|$)")


def owners(path: Path) -> tuple[str, ...]:
    relative = path.relative_to(PACKAGE).as_posix()
    if relative.startswith("cli/"):
        return (path.stem.replace("_", "-"),)
    return REACHED_BY[relative]


def messages(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in ``path`` that names an option, docstrings left
    out; an f-string is one text, ``{}`` where its values go."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
            text = "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        else:
            continue
        if OPTION.search(text):
            found.append((node.lineno, text))
    return found


def named_options(text: str, commands: tuple[str, ...]) -> list[tuple[str, str]]:
    """(command, option) for every option ``text`` names: ``commands``' own, except between a
    ``glassgpt OTHER`` (or ``pip``, ``torchrun``) and the end of its quote, clause or sentence."""
    found, at = [], 0
    while at < len(text):
        switch = OWNER.search(text, at)
        mine = text[at : switch.start() if switch else len(text)]
        found += [(c, "--" + m.group(1)) for m in OPTION.finditer(mine) for c in commands]
        if not switch:
            break
        end = BOUNDARY.search(text, switch.end())
        theirs = text[switch.end() : end.start() if end else len(text)]
        found += [(switch.group(1), "--" + m.group(1)) for m in OPTION.finditer(theirs) if switch.group(1)]
        at = end.end() if end else len(text)
    return found


@cache
def options_of(command: str) -> frozenset[str]:
    """Every option string of ``command``'s parser and of the subcommands under it."""
    parser = build_parser(command)
    found: set[str] = set()

    def walk(p: argparse.ArgumentParser) -> None:
        for action in p._actions:
            found.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    walk(child)

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    walk(sub.choices[command])
    return frozenset(found)


def test_the_mapping_names_real_modules_and_commands():
    for module, commands in REACHED_BY.items():
        assert (PACKAGE / module).is_file(), module
        assert set(commands) <= set(COMMANDS), (module, commands)


def test_the_reader_splits_a_message_between_its_commands():
    text = "pass --overwrite or `glassgpt train --out DIR --resume` (--quiet); pip install --no-deps x. --sft"
    assert named_options(text, ("finetune",)) == [
        ("finetune", "--overwrite"),
        ("train", "--out"),
        ("train", "--resume"),
        ("finetune", "--quiet"),
        ("finetune", "--sft"),
    ]
    assert options_of("finetune") >= {"--sft", "--out", "--device", "--threads", "--help"}
    assert "--resume" not in options_of("finetune") and "--input" in options_of("data")  # data prepare's


#: each command's own module, and the library modules above
MODULES = sorted({f"cli/{command.replace('-', '_')}.py" for command in COMMANDS} | set(REACHED_BY))


@pytest.mark.parametrize("module", MODULES)
def test_every_option_a_message_names_exists_on_its_command(module):
    path = PACKAGE / module
    commands = owners(path)
    wrong = [
        f"{module}:{line}: `glassgpt {command}` has no {option}: {text.strip()[:120]!r}"
        for line, text in messages(path)
        for command, option in named_options(text, commands)
        if command not in COMMANDS or option not in options_of(command)
    ]
    assert not wrong, "\n".join(wrong)
