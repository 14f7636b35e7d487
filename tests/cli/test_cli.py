import subprocess
import sys

import pytest

from glassgpt import __version__
from glassgpt.cli import COMMANDS, build_parser, main


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"glassgpt {__version__}"


def test_every_command_has_help_with_defaults(capsys):
    parser = build_parser()
    registered = set(parser._subparsers._group_actions[0].choices)
    assert {"train", "sample", "eval"} <= registered <= set(COMMANDS)
    for name in registered:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        out = capsys.readouterr().out
        assert e.value.code == 0 and "usage: glassgpt " + name in out


def test_sample_help_states_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.8)" in out and "(default: 300)" in out


def test_no_arguments_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_default_training_is_char_level_shakespeare_baby():
    from glassgpt.config import resolve

    cfg = resolve()
    assert (cfg.preset, cfg.data.corpus, cfg.data.tokenizer) == ("baby", "shakespeare", "char")
    assert (cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd, cfg.model.block_size) == (4, 4, 128, 64)
    assert 0 < cfg.train.time_budget <= 240  # keeps `glassgpt train` within five minutes on 2 cores


def test_console_script_trains_and_samples(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "glassgpt",
            "train",
            "--preset",
            "nursery",
            "--max-steps",
            "30",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "--- sample ---" in out.stdout and "<END>" in out.stdout
    s = subprocess.run(
        [
            sys.executable,
            "-m",
            "glassgpt",
            "sample",
            str(tmp_path / "r"),
            "--prompt",
            "mary",
            "--max-new-tokens",
            "5",
            "--seed",
            "0",
            "--temperature",
            "0",
        ],
        capture_output=True,
        text=True,
    )
    assert s.returncode == 0 and s.stdout.startswith("mary ") and len(s.stdout.split()) == 6
