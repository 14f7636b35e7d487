"""Every bad input is one clear TokenizerError / ConfigError; the CLI prints it and exits 2."""

import json
import subprocess
import sys

import pytest
from test_bpe_corpus import big_text

from glassgpt.cli import main
from glassgpt.errors import TokenizerError
from glassgpt.tokenizers import BPETokenizer, load


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tok.json"
    BPETokenizer.train(big_text(), 300, special_tokens=["<|endoftext|>"]).save(path)
    return path


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(text="hello", vocab_size=255), "at least 256"),
        (dict(text="hello", vocab_size=257, special_tokens=["<a>", "<b>"]), "at least 258"),
        (dict(text="hello", vocab_size=300.0), "whole number"),
        (dict(text="", vocab_size=300), "empty text"),
        (dict(text="hello", vocab_size=300, special_tokens=["<a>", "<a>"]), "listed twice"),
        (dict(text="hello", vocab_size=300, special_tokens=["<a>", "x<a>"]), "must not contain each other"),
        (dict(text="hello", vocab_size=300, special_tokens=[""]), "non-empty"),
        (dict(text="hello", vocab_size=300, pattern="(unclosed"), "not a valid regular expression"),
        (dict(text="hello", vocab_size=300, pattern="a*"), "matches empty text"),
    ],
)
def test_bad_training_input(kwargs, message):
    with pytest.raises(TokenizerError, match=message):
        BPETokenizer.train(**kwargs)


@pytest.mark.parametrize(
    "specials, message",
    [({"<a>": 300, "<b>": 300}, "both have id 300"), ({"<a>": 100}, "collides"), ({"<a>": "x"}, "collides")],
)
def test_colliding_special_ids(specials, message):
    with pytest.raises(TokenizerError, match=message):
        BPETokenizer([], "gpt4", specials)


def _corrupt(saved, tmp_path, change):
    data = json.loads(saved.read_text())
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["merges"].append([5000, 1]),
        lambda d: d["merges"].__setitem__(0, [1]),
        lambda d: d["merges"].__setitem__(0, "ab"),
        lambda d: d.__setitem__("merges", {}),
        lambda d: d.pop("pattern"),
        lambda d: d.__setitem__("pattern", "(("),
        lambda d: d.__setitem__("byte_order", [1, 2, 3]),
        lambda d: d.__setitem__("special_tokens", {"<x>": 3}),
        lambda d: d.__setitem__("special_tokens", []),
        lambda d: d.__setitem__("version", 99),
    ],
)
def test_corrupted_file_is_a_clear_error(saved, tmp_path, change):
    path = _corrupt(saved, tmp_path, change)
    with pytest.raises(TokenizerError, match="corrupted"):
        BPETokenizer.load(path)
    with pytest.raises(TokenizerError):
        load(path)
    assert main(["tokenizer", "encode", str(path), "--text", "hi"]) == 2


def test_truncated_or_missing_file(saved, tmp_path, capsys):
    path = tmp_path / "cut.json"
    path.write_bytes(saved.read_bytes()[:200])
    with pytest.raises(TokenizerError, match="corrupted or not JSON"):
        BPETokenizer.load(path)
    assert main(["tokenizer", "show", str(path)]) == 2
    assert "corrupted" in capsys.readouterr().err
    assert main(["tokenizer", "show", str(tmp_path / "nope.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bad_rank_files(tmp_path):
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("!!!notbase64 0\n")
    with pytest.raises(TokenizerError, match="not a tiktoken rank file"):
        BPETokenizer.from_tiktoken(bad)
    gap = tmp_path / "gap.tiktoken"
    gap.write_text("YQ== 0\nYg== 2\n")
    with pytest.raises(TokenizerError, match="without gaps"):
        BPETokenizer.from_tiktoken(gap)
    with pytest.raises(TokenizerError, match="neither"):
        BPETokenizer.from_tiktoken(tmp_path / "missing.tiktoken")


def test_bad_ids_and_inputs(saved):
    tok = BPETokenizer.load(saved)
    for bad in ([300], [-1], ["x"], [1.5]):
        with pytest.raises(TokenizerError):
            tok.decode(bad)
    with pytest.raises(TokenizerError, match="takes a str"):
        tok.encode(b"bytes")


CLI_ERRORS = [
    (["train", "--data", "{empty}", "--vocab-size", "300", "--out", "{out}"], ""),
    (["train", "--data", "{text}", "--vocab-size", "100", "--out", "{out}"], "at least 256"),
    (["train", "--data", "{text}", "--vocab-size", "300", "--pattern", "[", "--out", "{out}"], "regular expression"),
    (
        ["train", "--data", "{text}", "--vocab-size", "300", "--special", "<a>", "--special", "<a>", "--out", "{out}"],
        "twice",
    ),
    (["train", "--data", "{text}", "--vocab-size", "300", "--out", "{tok}"], "already exists"),
    (["train", "--corpus", "no-such-corpus", "--vocab-size", "300", "--out", "{out}"], "no-such-corpus"),
    (["encode", "{tok}", "--text", "a <|endoftext|>"], "special token"),
    (["decode", "{tok}", "--ids", "1", "999"], "outside"),
    (["decode", "{tok}", "--ids", "1", "x"], "not an id"),
    (["decode", "{tok}", "--ids", "195", "--strict"], "not valid UTF-8"),
    (["show", "{missing}"], "does not exist"),
]


@pytest.mark.parametrize("argv, message", CLI_ERRORS)
def test_cli_errors_exit_2(saved, tmp_path, capsys, argv, message):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "text.txt").write_text(big_text())
    paths = dict(
        empty=tmp_path / "empty.txt",
        text=tmp_path / "text.txt",
        out=tmp_path / "out.json",
        tok=saved,
        missing=tmp_path / "missing.json",
    )
    before = saved.read_bytes()
    assert main(["tokenizer", *[a.format(**paths) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "out.json").exists() and saved.read_bytes() == before


def test_cli_exit_status_in_a_real_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "glassgpt", "tokenizer", "decode", "cl100k_base", "--ids", "100261"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "not assigned" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_happy_path(tmp_path, capsys):
    data = tmp_path / "text.txt"
    data.write_text(big_text(), encoding="utf-8")
    out = tmp_path / "tok.json"
    assert (
        main(
            [
                "tokenizer",
                "train",
                "--data",
                str(data),
                "--vocab-size",
                "400",
                "--pattern",
                "gpt2",
                "--special",
                "<|endoftext|>",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert "bytes per token" in capsys.readouterr().out
    tok = BPETokenizer.load(out)
    assert tok.vocab_size == 400 and tok.pattern_name == "gpt2"
    assert main(["tokenizer", "encode", str(out), "--text", "hello <|endoftext|>", "--specials", "allow"]) == 0
    ids = capsys.readouterr().out.split()
    assert [int(i) for i in ids] == tok.encode("hello <|endoftext|>", allowed_special="all")
    assert main(["tokenizer", "decode", str(out), "--ids", ",".join(ids)]) == 0
    assert capsys.readouterr().out == "hello <|endoftext|>\n"
    assert main(["tokenizer", "show", str(out), "--text", "hello\tworld\n"]) == 0
    shown = capsys.readouterr().out
    assert "vocabulary" in shown and "bytes per token" in shown and "\\t" in shown
    assert main(["tokenizer", "encode", "cl100k_base", "--text", "hello world"]) == 0
    assert capsys.readouterr().out.split() == ["15339", "1917"]
