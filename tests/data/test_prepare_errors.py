"""Bad input to data prepare: one sentence each, and nothing of the user's is touched."""

from __future__ import annotations

import json

import pytest
from support.scaledata import make_docs

from glassgpt.data.prepare import prepare
from glassgpt.errors import ConfigError, DataError, GlassError, TokenizerError
from glassgpt.tokenizers import BPETokenizer


def one_sentence(exc: GlassError) -> str:
    msg = str(exc)
    assert msg.endswith(".") and "\n" not in msg and "Traceback" not in msg
    return msg


def run(src, tok, out, **kw):
    kw.setdefault("workers", 1)
    kw.setdefault("progress", False)
    return prepare(src, tok, out, **kw)


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, d in enumerate(make_docs(6)):
        (folder / f"{i}.txt").write_text(d)
    return folder


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda p: p / "missing.txt", "does not exist"),
        (lambda p: str(p / "nothing*.txt"), "matches no files"),
        (lambda p: (p / "empty.txt").write_text("") and None or p / "empty.txt", "is empty"),
        (lambda p: (p / "sub").mkdir() or p / "sub", "contains no .txt files"),
        (lambda p: (p / "bin.txt").write_bytes(b"abc\x00def") and p / "bin.txt", "binary file.*byte offset 3"),
    ],
)
def test_unusable_inputs(tmp_path, bpe_file, make, pattern):
    with pytest.raises(DataError, match=pattern) as e:
        run(make(tmp_path), f"bpe:{bpe_file}", tmp_path / "out")
    one_sentence(e.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_damage_deep_inside_a_file_names_the_byte_offset(tmp_path, bpe_file):
    good = "All is well here.\n" * 1000
    (tmp_path / "a.txt").write_bytes(good.encode() + b"caf\xe9 au lait\n")
    with pytest.raises(DataError, match=f"not valid UTF-8 \\(byte 0xe9 at byte offset {len(good) + 3}\\)") as e:
        run(tmp_path / "a.txt", f"bpe:{bpe_file}", tmp_path / "out", val_fraction=0)
    one_sentence(e.value)
    (tmp_path / "b.txt").write_bytes(good.encode() * 2 + b"x\x00y")
    with pytest.raises(DataError, match=f"binary file.*byte offset {2 * len(good) + 1}"):
        run(tmp_path / "b.txt", f"bpe:{bpe_file}", tmp_path / "out2", val_fraction=0)


@pytest.mark.parametrize(
    "line, pattern",
    [
        ("{not json", "line 3 of .* is not valid JSON"),
        ('{"body": "x"}', "line 3 of .* has no field 'text'"),
        ('{"text": 7}', "line 3 of .* has a int in 'text', not text"),
        ('["text"]', "line 3 of .* is not a JSON object"),
        ('{"text": "\\ud800"}', "line 3 of .* lone surrogate"),
    ],
)
def test_bad_jsonl_lines_are_named_by_number(tmp_path, bpe_file, line, pattern):
    (tmp_path / "c.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n' + line + '\n{"text": "four"}\n')
    with pytest.raises(DataError, match=pattern) as e:
        run(tmp_path / "c.jsonl", f"bpe:{bpe_file}", tmp_path / "out", jsonl="text", val_fraction=0, seed=0)
    one_sentence(e.value)


def test_non_utf8_jsonl_line(tmp_path, bpe_file):
    (tmp_path / "c.jsonl").write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match="line 2 of .* is not valid UTF-8"):
        run(tmp_path / "c.jsonl", f"bpe:{bpe_file}", tmp_path / "out", jsonl="text", val_fraction=0)


@pytest.mark.parametrize(
    "spec, kind, pattern",
    [
        ("gpt3", TokenizerError, "tokenizer file gpt3 does not exist; give a tokenizer JSON file"),
        ("gpt2", ConfigError, "do not ship offline.*gpt2:r50k_base.tiktoken"),
        ("gpt2:/no/such.tiktoken", ConfigError, "does not exist"),
        ("bpe:/no/such.json", TokenizerError, "does not exist"),
        ("", ConfigError, "a tokenizer is needed"),
    ],
)
def test_unknown_or_unavailable_tokenizers(tmp_path, src, spec, kind, pattern):
    with pytest.raises(kind, match=pattern) as e:
        run(src, spec, tmp_path / "out")
    one_sentence(e.value)


def test_a_tokenizer_without_end_of_text_is_refused(tmp_path, src):
    BPETokenizer.train("hello world " * 20, vocab_size=260).save(tmp_path / "t.json")
    with pytest.raises(TokenizerError, match="no <\\|endoftext\\|> special token.*--special") as e:
        run(src, f"bpe:{tmp_path / 't.json'}", tmp_path / "out")
    one_sentence(e.value)


@pytest.mark.parametrize(
    "kw, pattern",
    [
        ({"shard_tokens": 0}, "--shard-tokens must be a whole number from 1"),
        ({"shard_tokens": 2.5}, "--shard-tokens"),
        ({"workers": 0}, "--workers must be a whole number from 1 to 256"),
        ({"workers": 10_000}, "--workers"),
        ({"val_fraction": 1.0}, "--val-fraction must be a number in \\[0, 1\\)"),
        ({"val_fraction": -0.1}, "--val-fraction"),
        ({"seed": -1}, "--seed"),
        ({"jsonl": ""}, "--jsonl needs the name of the field"),
    ],
)
def test_absurd_settings(tmp_path, src, bpe_file, kw, pattern):
    with pytest.raises(ConfigError, match=pattern) as e:
        run(src, f"bpe:{bpe_file}", tmp_path / "out", **kw)
    one_sentence(e.value)


def test_too_little_text_for_a_validation_split(tmp_path, bpe_file):
    (tmp_path / "a.txt").write_text("just one short line\n")
    with pytest.raises(DataError, match="too small to hold out 0.1 of it for validation.*--val-fraction 0"):
        run(tmp_path / "a.txt", f"bpe:{bpe_file}", tmp_path / "out", val_fraction=0.1)


def test_only_whitespace(tmp_path, bpe_file):
    (tmp_path / "a.txt").write_text("   \n\n  \t\n")
    with pytest.raises(DataError, match="no text to train on"):
        run(tmp_path / "a.txt", f"bpe:{bpe_file}", tmp_path / "out", val_fraction=0)


def test_an_out_folder_with_other_files_is_never_touched(tmp_path, src, bpe_file):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(DataError, match="not empty and is not a prepared corpus.*'notes.md'"):
            run(src, f"bpe:{bpe_file}", out, overwrite=overwrite)
    assert [p.name for p in out.iterdir()] == ["notes.md"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        run(src, f"bpe:{bpe_file}", tmp_path / "file")


def test_a_finished_corpus_with_other_settings_needs_overwrite(tmp_path, src, bpe_file):
    first = run(src, f"bpe:{bpe_file}", tmp_path / "out", seed=1, val_fraction=0)
    with pytest.raises(DataError, match="holds a corpus prepared with other inputs or settings"):
        run(src, f"bpe:{bpe_file}", tmp_path / "out", seed=2, val_fraction=0)
    assert json.loads((tmp_path / "out" / "index.json").read_text())["fingerprint"] == first["fingerprint"]
    second = run(src, f"bpe:{bpe_file}", tmp_path / "out", seed=2, val_fraction=0, overwrite=True)
    assert second["fingerprint"]["settings"]["seed"] == 2
