"""What every command prints: quiet exits into a closed pipe, 80 columns (or --wide), no raw
control bytes on a terminal, help without "None", escapes in --stop, --debug anywhere.

Commands run as their own processes through ``forkrun.py`` (one torch import, a fork per
command line); a few run as the real ``python -m glassgpt`` too.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.cli import COMMANDS, EXIT_PIPE, main
from glassgpt.config import RunConfig, settings_help
from glassgpt.config.schema import DERIVED, SECTIONS
from glassgpt.errors import RunDirError
from glassgpt.training.launch import train

HERE = Path(__file__).parent
ENV = dict(os.environ, GLASSGPT_REPORT="0", COLUMNS="80", OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
TINY = [
    "--set",
    "model.n_layer=1",
    "--set",
    "model.n_head=2",
    "--set",
    "model.n_embd=16",
    "--set",
    "model.block_size=16",
    "--set",
    "train.batch_size=4",
    "--set",
    "train.eval_every=0",
    "--max-steps",
    "3",
    "--threads",
    "1",
    "--quiet",
]
ESCAPES = "\x1b[31mred\x07"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-output")
    (root / "text.txt").write_text(TINY_TEXT)
    cfg = tiny_config(max_steps=3, eval_every=0)
    cfg = cfg.updated({"model.n_layer": 1, "model.n_embd": 16})
    train(root / "run", config=cfg, text=TINY_TEXT)
    cfg = cfg.updated({"data.tokenizer": "byte"})
    train(root / "bytes", config=cfg, text=TINY_TEXT)
    return root


def forkrun(tmp_path: Path, cases: list[dict]) -> list[dict]:
    """Run each ``{"argv", "stdout"?}`` as its own process; returns status, stdout, stderr of each."""
    specs = []
    for i, case in enumerate(cases):
        out = case.get("stdout") or str(tmp_path / f"{i}.out")
        specs.append(
            {
                "argv": case["argv"],
                "cwd": str(tmp_path),
                "stdout": out,
                "stderr": str(tmp_path / f"{i}.err"),
                "timeout": 120,
            }
        )
    (tmp_path / "cases.json").write_text(json.dumps(specs))
    subprocess.run(
        [
            sys.executable,
            str(HERE.parent / "support" / "forkrun.py"),
            str(tmp_path / "cases.json"),
            str(tmp_path / "results.json"),
            "2",
        ],
        env=ENV,
        check=True,
        timeout=600,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    for spec, r in zip(specs, results):
        r["stdout"] = Path(spec["stdout"]).read_text() if spec["stdout"].startswith(str(tmp_path)) else ""
        r["stderr"] = Path(spec["stderr"]).read_text()
        r["argv"] = spec["argv"]
    return results


def printing_commands(runs: Path, tmp: Path) -> list[list[str]]:
    run, text = str(runs / "run"), str(runs / "text.txt")
    return [
        ["train", "--data", text, "--out", str(tmp / "piped-run"), *TINY],
        ["sample", run, "--max-new-tokens", "5", "--seed", "0"],
        ["sample", run, "--max-new-tokens", "5", "--json"],
        ["eval", run],
        ["explain", run, "the quick brown fox"],
        ["explain", run, "the quick", "--json"],
        ["tokenizer", "encode", run, "--text", "the quick"],
        ["tokenizer", "decode", run, "--ids", "1", "2", "3"],
        ["tokenizer", "show", run, "--text", "the quick"],
        ["tokenizer", "train", "--data", text, "--vocab-size", "260", "--out", str(tmp / "bpe.json")],
        ["gradcheck", "--preset", "nursery"],
        ["plot", run, "loss"],
        ["report", run, "--no-plots"],
        ["demo"],
        ["demo", "softmax"],
        ["train", "--help"],
        [],
    ]


@pytest.mark.slow
def test_every_printing_command_exits_quietly_into_a_closed_pipe(runs, tmp_path):
    """`glassgpt ... | head -c 1`: the reader is gone; the command stops with status 141 and
    not a word on stderr about it (help text is argparse's: it ignores the closed pipe and
    keeps its own status, 0 for --help and 2 without a command)."""
    results = forkrun(tmp_path, [{"argv": argv, "stdout": "closed-pipe"} for argv in printing_commands(runs, tmp_path)])
    for r in results:
        expected = 0 if "--help" in r["argv"] else 2 if not r["argv"] else EXIT_PIPE
        assert r["status"] == expected, r
        assert not any(w in r["stderr"] for w in ("Traceback", "Exception", "Error", "error")), r


@pytest.mark.slow
def test_the_real_script_in_a_shell_pipe_with_head(runs, tmp_path):
    """The same through a shell, as a user types it: no traceback, and head got its byte."""
    run = runs / "run"
    for argv in (
        ["sample", str(run), "--max-new-tokens", "200", "--num-samples", "20"],
        ["explain", str(run), "the quick brown fox jumps over the lazy dog", "--json"],
        ["tokenizer", "encode", str(run), "--text", TINY_TEXT * 20],
    ):
        command = " ".join(f"'{a}'" for a in [sys.executable, "-m", "glassgpt", *argv])
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", f"{command} | head -c 1"],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr, proc.stderr
        assert len(proc.stdout) == 1 and proc.returncode in (0, EXIT_PIPE), (argv, proc.returncode, proc.stderr)


@pytest.mark.slow
def test_output_fits_80_columns_unless_wide(runs, tmp_path):
    run = str(runs / "run")
    narrow = [
        ["demo"],
        ["demo", "softmax"],
        ["demo", "loss-gradient"],
        ["demo", "chain-rule"],
        ["demo", "gradient-descent"],
        ["demo", "cross-entropy"],
        ["gradcheck", "--preset", "nursery"],
        ["explain", run, "the quick brown fox jumps"],
        ["tokenizer", "show", run, "--text", "the quick"],
    ]
    helps = (
        [[name, "--help"] for name in COMMANDS]
        + [["tokenizer", a, "--help"] for a in ("train", "encode", "decode", "show")]
        + [["--help"]]
    )
    wide = [["demo", "loss-gradient", "--wide"], ["gradcheck", "--preset", "nursery", "--wide"]]
    results = forkrun(tmp_path, [{"argv": a} for a in narrow + helps + wide])
    for r in results[: len(narrow) + len(helps)]:
        assert r["status"] == 0, r
        lines = r["stdout"].splitlines()
        assert lines and max(len(line) for line in lines) <= 80, (r["argv"], max(lines, key=len))
    for r in results[len(narrow) + len(helps) :]:
        assert r["status"] == 0 and max(len(line) for line in r["stdout"].splitlines()) > 80, r["argv"]


def _on_terminal(tmp_path: Path, argvs: list[list[str]]) -> list[dict]:
    """Run each command line with stdout on a pseudo-terminal; returns what the terminal received."""
    tmp_path.mkdir(exist_ok=True)
    terminals = [pty.openpty() for _ in argvs]
    try:
        results = forkrun(
            tmp_path, [{"argv": a, "stdout": os.ttyname(slave)} for a, (_, slave) in zip(argvs, terminals)]
        )
        for r, (master, slave) in zip(results, terminals):
            os.close(slave)
            os.set_blocking(master, False)
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 65536)
                except (BlockingIOError, OSError):
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            r["stdout"] = b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")
        return results
    finally:
        for master, slave in terminals:
            for fd in (master, slave):
                try:
                    os.close(fd)
                except OSError:
                    pass


@pytest.mark.slow
def test_control_characters_are_escaped_on_a_terminal_only(runs, tmp_path):
    byte_run = str(runs / "bytes")
    sample = ["sample", byte_run, "--prompt", ESCAPES, "--max-new-tokens", "0", "--quiet"]
    decode = ["tokenizer", "decode", byte_run, "--ids", "27", "91", "51", "49", "109", "7"]
    tty = _on_terminal(tmp_path / "tty", [sample, decode, [*sample, "--raw"], [*decode, "--raw"]])
    assert all(r["status"] == 0 for r in tty), tty
    for r in tty[:2]:
        assert "\x1b" not in r["stdout"] and "\x07" not in r["stdout"], r
        assert "\\x1b[31m" in r["stdout"] and "\\x07" in r["stdout"], r
    for r in tty[2:]:  # --raw: the bytes as they are
        assert "\x1b[31m" in r["stdout"] and "\x07" in r["stdout"], r
    piped = forkrun(tmp_path, [{"argv": sample}, {"argv": decode}])  # a program reading a pipe gets the raw text
    assert ESCAPES in piped[0]["stdout"] and "\x1b[31m\x07" in piped[1]["stdout"], piped


def _help_text(capsys, argv) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    return capsys.readouterr().out


def test_help_never_shows_none_or_a_default_twice(capsys):
    argvs = (
        [[name, "--help"] for name in COMMANDS]
        + [["tokenizer", a, "--help"] for a in ("train", "encode", "decode", "show")]
        + [["--help"]]
    )
    for argv in argvs:
        out = " ".join(_help_text(capsys, argv).split())
        assert "None" not in out and "default: False" not in out and "default: []" not in out, argv
        for option in out.split(" --")[1:]:  # each option's text: at most one "(default: ...)"
            assert option.count("(default:") <= 1, (argv, option)
    train_help = " ".join(_help_text(capsys, ["train", "--help"]).split())
    assert train_help.count("(default: baby)") == 1 and "(default: auto" not in train_help.replace("auto |", "")


def test_the_set_key_list_is_generated_wrapped_and_grouped():
    text = settings_help(80)
    assert max(len(line) for line in text.splitlines()) <= 80
    for section in SECTIONS:
        names = {f for f in getattr(RunConfig(), section).__dict__}
        line_words = " ".join(
            l for l in text.splitlines() if l.lstrip().startswith(section + ":") or l.startswith(" " * 9)
        ).split()
        for name in names:
            assert (name in line_words) != (f"{section}.{name}" in DERIVED), (section, name)
    assert text.index("model:") < text.index("data:") < text.index("train:")


def test_debug_works_after_the_command_name(capsys, tmp_path):
    missing = str(tmp_path / "missing")
    assert main(["sample", missing]) == 2 and "does not exist" in capsys.readouterr().err
    for argv in (["--debug", "sample", missing], ["sample", missing, "--debug"], ["sample", "--debug", missing]):
        with pytest.raises(RunDirError):
            main(argv)
    with pytest.raises(RunDirError):
        main(["eval", missing, "--debug"])


def test_stop_takes_escape_sequences(runs, capsys):
    run = str(runs / "run")
    assert main(["sample", run, "--seed", "1", "--max-new-tokens", "80", "--quiet"]) == 0
    full = capsys.readouterr().out
    cut = full.index(" ")  # \x20 is a space: the sample ends before its first one
    assert main(["sample", run, "--seed", "1", "--max-new-tokens", "80", "--quiet", "--stop", "\\x20"]) == 0
    assert capsys.readouterr().out == full[:cut] + "\n"
    assert main(["sample", run, "--seed", "1", "--max-new-tokens", "80", "--quiet", "--stop", "\\n\\n"]) == 0
    two = capsys.readouterr().out
    assert "\n\n" not in two.rstrip("\n") and ("\n\n" not in full or len(two) < len(full))


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "usage: glassgpt" in out and all(name in out for name in COMMANDS)


def test_argparse_errors_are_one_sentence(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sample", "run", "--top-k", "many"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err.count("\n") == 0
    assert err == "error: argument --top-k: invalid int value: 'many'; see `glassgpt sample --help`."
