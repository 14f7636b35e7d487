"""The examples of README.md and docs/*.md, read and run (tests/docs/test_examples.py).

A page's fenced blocks each name their language.  A ``bash`` (or ``sh``, ``shell``) block is a
shell example and a ``python`` block a Python one; every example is run, in the order of its
page, in one folder per page, unless the line just above its fence says why it cannot be:

    <!-- not run: starts a server that runs until it is stopped -->

(an HTML comment, so neither GitHub nor the site shows it).  Other languages (``text``,
``json``, ``toml`` ...) are shown output or file contents and are not run.

Running an example keeps what it shows and changes only its size: every ``glassgpt`` command
is run in-process with its step counts, vocabularies, workers and sample lengths cut down
(``shrink``), a Shakespeare run validates on 0.2% of the text instead of 10%, and Python blocks
get the same cuts in their keyword arguments.  Fragments that use names the page defines in its
prose (a ``model``, a batch ``x``) get a prelude that makes them (``PRELUDES`` in the test).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SHELL = {"bash", "sh", "shell"}
PYTHON = {"python", "py"}
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARK = re.compile(r"^<!--\s*not run:(.*?)-->\s*$")


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    not_run: str | None  # the reason given, None for a block that runs

    @property
    def example(self) -> bool:
        return self.lang in SHELL | PYTHON

    def where(self) -> str:
        return f"{self.page}:{self.line}"


def read_blocks(path: Path, root: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with the reason of a ``not run`` mark above them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        above = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = MARK.match(above)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        indent = len(opened.group(1))
        body = "\n".join(line[indent:] for line in lines[i + 1 : end])
        page = str(path.relative_to(root))
        blocks.append(Block(page, i + 1, opened.group(2), body, mark.group(1).strip() if mark else None))
        i = end + 1
    return blocks


def steps(n: int) -> int:
    """A step count cut down, keeping the order of two counts (3000 → 12, 5000 → 20)."""
    return max(2, n // 250)


#: option -> how its value is cut down
CUTS = {
    "--max-steps": steps,
    "--vocab-size": lambda n: min(n, 300),
    "--workers": lambda n: min(n, 2),
    "--shard-tokens": lambda n: min(n, 20_000),
    "--max-new-tokens": lambda n: min(n, 40),
    "--max-tokens": lambda n: min(n, 40),
    "--num-samples": lambda n: min(n, 3),
    "--diagnostics-every": lambda n: min(n, 2),
}
#: presets that train on the built-in Shakespeare unless told otherwise
SHAKESPEARE_PRESETS = (None, "baby", "cpu-speedrun", "small")
#: what creates a run or a file in --out, and how it is told to replace one the folder already has
REPLACES = {
    ("train",): "--overwrite",
    ("finetune",): "--overwrite",
    ("import-hf",): "--overwrite",
    ("reward",): "--overwrite",
    ("rl",): "--overwrite",
    ("dpo",): "--overwrite",
    ("merge",): "--overwrite",
}


def _value(argv: list[str], option: str) -> str | None:
    return argv[argv.index(option) + 1] if option in argv and argv.index(option) + 1 < len(argv) else None


def shrink(argv: list[str], folder: Path) -> list[str]:
    """A ``glassgpt`` command line (without the program name) cut down to test size."""
    out = list(argv)
    for i, word in enumerate(out[:-1]):
        if word in CUTS and out[i + 1].isdigit():
            out[i + 1] = str(CUTS[word](int(out[i + 1])))
    if "--ids" in out:  # ids of a cut-down vocabulary: the first 256 (the bytes) are in every one
        start = out.index("--ids") + 1
        while start < len(out) and out[start].isdigit():
            out[start] = str(int(out[start]) % 256)
            start += 1
    command = out[0] if out else ""
    resume = "--resume" in out
    if command == "train" and not resume:
        if "--max-steps" not in out:
            out += ["--max-steps", "4"]
        preset, corpus = _value(out, "--preset"), _value(out, "--corpus")
        own_data = "--data" in out or "--model" in out or "--config" in out
        if preset in SHAKESPEARE_PRESETS and not own_data and corpus in (None, "shakespeare"):
            out += ["--set", "data.val_fraction=0.002"]
            if preset == "cpu-speedrun":
                out += ["--time-budget", "15"]  # its schedule follows the time budget
            elif "--time-budget" not in out:
                out += ["--set", "train.time_budget=0"]
    if command == "finetune" and "--max-steps" not in out:
        out += ["--max-steps", "2"]
    if command in ("reward", "dpo") and _value(out, "--pairs") == "arithmetic" and "--task-pairs" not in out:
        out += ["--task-pairs", "40"]  # pairs sampled from the run: a few are enough to show it works
    replace = REPLACES.get((command,))
    target = _value(out, "--out")
    if replace and target and (folder / target).exists() and not resume and replace not in out:
        out.append(replace)
    return out


#: Python keyword arguments cut down the same way (a regex on the source)
PYTHON_CUTS = [
    (re.compile(r'("train\.max_steps":\s*)(\d+)'), steps),
    (re.compile(r"(vocab_size=)(\d+)"), lambda n: min(n, 300)),
    (re.compile(r"(workers=)(\d+)"), lambda n: min(n, 2)),
]


def shrink_python(source: str) -> str:
    for pattern, cut in PYTHON_CUTS:
        source = pattern.sub(lambda m, cut=cut: m.group(1) + str(cut(int(m.group(2)))), source)
    return source


def logical_lines(text: str) -> list[str]:
    """The shell block's commands: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    commands = []
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";")
        lexer.whitespace_split, lexer.commenters = True, "#"
        words, current = list(lexer), []
        for word in words + [";"]:
            if word == ";":
                if current:
                    commands.append(shlex.join(current) if _plain(current) else line)
                current = []
            else:
                current.append(word)
    return commands


def _plain(words: list[str]) -> bool:
    """Whether a command is one program with arguments (no pipe or redirection)."""
    return not any(w in ("|", ">", ">>", "<", "&&", "||") for w in words)


#: where an example writes a run or a folder of its own: --out/--hf of a command, the first
#: argument of glassgpt.train, the second of export_hf/import_hf
MAKES = [
    re.compile(r"--(?:out|hf)\s+(\S+)"),
    re.compile(r"glassgpt\.train\(\s*\"([^\"]+)\""),
    re.compile(r"(?:export_hf|import_hf)\(\s*\"[^\"]+\",\s*\"([^\"]+)\""),
]


def made_by(blocks: list[Block]) -> set[str]:
    """The paths the runnable examples of a page write (a reader starts without them)."""
    return {m.group(1) for b in blocks if b.example and b.not_run is None for p in MAKES for m in p.finditer(b.text)}


class ExampleFailed(AssertionError):
    pass


def run_shell(block: Block, folder: Path, main) -> str:
    """Run a shell block's commands in ``folder``; ``glassgpt`` in-process through ``main``."""
    shown = []
    for command in logical_lines(block.text):
        words = shlex.split(command)
        env = {}
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        if words[:1] == ["glassgpt"] or words[:3] == ["python", "-m", "glassgpt"]:
            argv = shrink(words[3:] if words[0] == "python" else words[1:], folder)
            shown.append(_in_process(block, command, argv, env, main))
        else:
            shown.append(_subprocess(block, command, folder, env))
    return "\n".join(shown)


def _in_process(block: Block, command: str, argv: list[str], env: dict[str, str], main) -> str:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # --help
                code = exc.code or 0
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if code != 0:
        raise ExampleFailed(
            f"{block.where()}: `{command}` (run as glassgpt {shlex.join(argv)}) exited {code}:\n{err.getvalue()[-3000:]}"
        )
    return out.getvalue()


def _subprocess(block: Block, command: str, folder: Path, env: dict[str, str]) -> str:
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env, "PATH": path},
    )
    if done.returncode != 0:
        raise ExampleFailed(f"{block.where()}: `{command}` exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def run_python(block: Block, namespace: dict, prelude: str = "") -> str:
    """Run a Python block in the page's namespace (blocks of a page build on each other)."""
    source = shrink_python(block.text)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(prelude + "\n" + source, block.where(), "exec"), namespace)
    except Exception as exc:
        raise ExampleFailed(f"{block.where()}: {exc.__class__.__name__}: {exc}\n{source}") from exc
    return out.getvalue()
