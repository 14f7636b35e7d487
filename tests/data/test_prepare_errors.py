"""Bad input to data prepare: one sentence each, and nothing of the user's is touched."""

from __future__ import annotations

import codecs
import json

import pytest
from support.scaledata import make_docs

from glassgpt.data import prepare as prep
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
        (
            lambda p: (
                (p / "u16.txt").write_bytes(codecs.BOM_UTF16_LE + "hello\n".encode("utf-16-le")) and p / "u16.txt"
            ),
            "u16.txt looks like UTF-16 text \\(it starts with a UTF-16 byte-order mark\\).*iconv -f UTF-16",
        ),
        (
            lambda p: (p / "u16.txt").write_bytes("hello world\n".encode("utf-16-le")) and p / "u16.txt",
            "u16.txt looks like UTF-16 text \\(every other byte is NUL\\)",
        ),
    ],
)
def test_unusable_inputs(tmp_path, bpe_file, make, pattern):
    with pytest.raises(DataError, match=pattern) as e:
        run(make(tmp_path), f"bpe:{bpe_file}", tmp_path / "out")
    one_sentence(e.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_damage_deep_inside_a_file_names_the_byte_offset_and_the_line(tmp_path, bpe_file):
    good = "All is well here.\n" * 1000
    (tmp_path / "a.txt").write_bytes(good.encode() + b"caf\xe9 au lait\n")
    bad = f"not valid UTF-8 \\(byte 0xe9 at byte offset {len(good) + 3}, on line 1,001\\)"
    with pytest.raises(DataError, match=bad) as e:
        run(tmp_path / "a.txt", f"bpe:{bpe_file}", tmp_path / "out", val_fraction=0, piece_bytes=4000)
    one_sentence(e.value)
    (tmp_path / "b.txt").write_bytes(good.encode() * 2 + b"x\x00y")
    with pytest.raises(DataError, match=f"binary file.*byte offset {2 * len(good) + 1}, on line 2,001\\)"):
        run(tmp_path / "b.txt", f"bpe:{bpe_file}", tmp_path / "out2", val_fraction=0, piece_bytes=4000)


def _lines(n: int) -> list[bytes]:
    return [f"Line {i:03d} of a text where nothing is wrong.".encode() for i in range(1, n + 1)]


@pytest.mark.parametrize("where", ["first", "last", "middle of a later piece"])
@pytest.mark.parametrize("jsonl", [False, True])
def test_with_two_workers_an_error_names_the_file_and_the_line(tmp_path, bpe_file, where, jsonl):
    """The input is cut into pieces of ~400 bytes (about 9 lines) and spread over two workers;
    a good file comes first, so the bad one is not the first document either."""
    lines = _lines(60)
    number = {"first": 1, "last": 60, "middle of a later piece": 41}[where]
    if jsonl:
        lines = [json.dumps({"text": line.decode()}).encode() for line in lines]
        lines[number - 1] = b'{"text": "caf\xe9"}'
        message = f"line {number} of {tmp_path / 'in' / 'b.jsonl'} is not valid UTF-8"
    else:
        lines[number - 1] = lines[number - 1].replace(b"nothing", b"caf\xe9")
        offset = sum(len(line) + 1 for line in lines[: number - 1]) + lines[number - 1].index(b"\xe9")
        message = (
            f"{tmp_path / 'in' / 'b.txt'} is not valid UTF-8 (byte 0xe9 at byte offset {offset}, on line {number})"
        )
    suffix = ".jsonl" if jsonl else ".txt"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / f"a{suffix}").write_bytes(
        b"\n".join(_lines(60) if not jsonl else [b'{"text": "fine"}'] * 60) + b"\n"
    )
    (tmp_path / "in" / f"b{suffix}").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError) as e:
        kw = {"jsonl": "text"} if jsonl else {}
        run(tmp_path / "in", f"bpe:{bpe_file}", tmp_path / "out", workers=2, piece_bytes=400, shard_tokens=50, **kw)
    assert one_sentence(e.value).startswith(message), str(e.value)
    assert not (tmp_path / "out").exists()


# ---- a failed preparation leaves nothing behind ------------------------------------------
def test_a_bad_line_leaves_nothing_behind_and_the_fixed_input_needs_no_overwrite(tmp_path, bpe_file):
    docs = [json.dumps({"text": d}) for d in make_docs(40, seed=3)]
    (tmp_path / "c.jsonl").write_text("\n".join(docs[:30] + ["{not json"] + docs[30:]) + "\n")
    out = tmp_path / "new" / "corpus"  # two folders this run makes
    with pytest.raises(DataError, match="line 31 of .* is not valid JSON"):
        run(tmp_path / "c.jsonl", f"bpe:{bpe_file}", out, jsonl="text", shard_tokens=50, val_fraction=0, seed=0)
    assert not (tmp_path / "new").exists()
    (tmp_path / "c.jsonl").write_text("\n".join(docs) + "\n")
    index = run(tmp_path / "c.jsonl", f"bpe:{bpe_file}", out, jsonl="text", shard_tokens=50, val_fraction=0)
    assert index["splits"]["train"]["documents"] == 40


def test_a_bad_line_in_an_empty_folder_of_yours_leaves_the_folder_empty(tmp_path, bpe_file):
    (tmp_path / "c.jsonl").write_text('{"text": "one"}\n{"text": 2}\n')
    (tmp_path / "out").mkdir()
    with pytest.raises(DataError, match="line 2 of .* has a int in 'text'"):
        run(tmp_path / "c.jsonl", f"bpe:{bpe_file}", tmp_path / "out", jsonl="text", val_fraction=0)
    assert (tmp_path / "out").is_dir() and not any((tmp_path / "out").iterdir())


def test_ctrl_c_before_the_first_shard_leaves_nothing_behind(tmp_path, src, bpe_file, monkeypatch):
    real = prep.prepare_worker.encode_task
    calls = []

    def interrupted(task):
        calls.append(task[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if Ctrl-C reached the encoding loop
        return real(task)

    monkeypatch.setattr(prep.prepare_worker, "encode_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(src, f"bpe:{bpe_file}", tmp_path / "out", piece_bytes=100, val_fraction=0)
    assert len(calls) == 2 and not (tmp_path / "out").exists()
    monkeypatch.setattr(prep.prepare_worker, "encode_task", real)
    index = run(src, f"bpe:{bpe_file}", tmp_path / "out", seed=5, val_fraction=0)  # other settings: no refusal
    assert index["splits"]["train"]["documents"] == 6


def test_an_unfinished_preparation_without_shards_starts_again_saying_so(tmp_path, src, bpe_file, capsys):
    """What ``kill -9`` before the first shard leaves: no cleanup could run."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "tokenizer.json").write_text("{}")
    record = {"format": "glassgpt-shards", "fingerprint": {"settings": {"seed": 1}}, "next_task": 0, "skip": 0}
    (out / "progress.json").write_text(json.dumps({**record, "shards": {"val": [], "train": []}}))
    index = run(src, f"bpe:{bpe_file}", out, val_fraction=0)
    assert index["splits"]["train"]["documents"] == 6 and not (out / "progress.json").exists()
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"note: --out {out} holds an unfinished preparation of other inputs or settings that wrote no shard; "
        "starting again."
    )


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
        ("word", ConfigError, "--tokenizer word does not suit a prepared corpus.*use char, byte or a BPE"),
        ("bpe", ConfigError, "does not train a BPE; train one first with `glassgpt tokenizer train"),
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


def test_one_jsonl_document_cannot_be_split_for_validation(tmp_path, bpe_file):
    (tmp_path / "a.jsonl").write_text('{"text": "just one document"}\n')
    with pytest.raises(DataError, match="a single JSONL document, which cannot be cut.*--val-fraction 0") as e:
        run(tmp_path / "a.jsonl", f"bpe:{bpe_file}", tmp_path / "out", jsonl="text", val_fraction=0.1)
    one_sentence(e.value)
    assert not (tmp_path / "out").exists()


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
