"""Persistence and export: readable JSON that round-trips exactly, Hugging Face
``tokenizers`` export with identical ids, and the run's tokenizer spec."""

import json

import pytest
from test_bpe_corpus import big_text, corpus

from glassgpt.tokenizers import BPETokenizer, from_dict, load
from glassgpt.tokenizers.spec import build_tokenizer

PATTERNS = ["gpt4", "gpt2", "none", r"\p{L}+| ?\p{N}"]


@pytest.fixture(scope="module", params=PATTERNS)
def tok(request):
    return BPETokenizer.train(big_text(), 500, pattern=request.param, special_tokens=["<|endoftext|>", "<|pad|>"])


def test_save_load_round_trips_exactly(tok, tmp_path):
    path = tmp_path / "tok.json"
    tok.save(path)
    back = load(path)
    assert isinstance(back, BPETokenizer) and back == tok
    assert back.merges == tok.merges and back.special_tokens == tok.special_tokens and back.pattern == tok.pattern
    again = tmp_path / "again.json"
    back.save(again)
    assert again.read_bytes() == path.read_bytes()
    text = "\n".join(corpus(with_specials=True))
    assert back.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")


def test_file_is_readable_json(tok, tmp_path):
    path = tmp_path / "tok.json"
    tok.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["type"] == "bpe" and data["pattern_name"] == tok.pattern_name
    assert data["merges"][0][:2] == list(tok.merges[0]) and data["merges"][0][2] == tok.token_str(256)
    assert from_dict(tok.to_dict()) == tok  # the plain dict form loads too (no renderings)


def test_byte_order_round_trips(tmp_path):
    order = list(range(255, -1, -1))
    tok = BPETokenizer([(0, 1)], "gpt4", [], byte_order=order)
    assert tok.token_bytes(0) == b"\xff" and tok.token_bytes(256) == b"\xff\xfe"
    tok.save(tmp_path / "t.json")
    assert BPETokenizer.load(tmp_path / "t.json") == tok


def test_hugging_face_export_gives_identical_ids(tok, tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    hf = tok.to_hf()
    for text in corpus(with_specials=True):
        assert hf.encode(text).ids == tok.encode(text, allowed_special="all"), text
    tok.save_hf(tmp_path / "hf.json")
    loaded = tokenizers.Tokenizer.from_file(str(tmp_path / "hf.json"))
    text = "\n".join(corpus(with_specials=True))
    ids = tok.encode(text, allowed_special="all")
    assert loaded.encode(text).ids == ids
    assert loaded.decode(ids, skip_special_tokens=False) == text
    assert loaded.get_vocab_size() == tok.vocab_size


def test_hugging_face_export_of_a_long_merge_list():
    pytest.importorskip("tokenizers")
    text = open(__file__, encoding="utf-8").read() + big_text()
    tok = BPETokenizer.train(text, 1500)
    assert tok.to_hf().encode(text).ids == tok.encode(text)


def test_spec_builds_and_loads_bpe(tmp_path):
    text = big_text()
    tok = build_tokenizer("bpe", text, vocab_size=300)
    assert isinstance(tok, BPETokenizer) and tok.vocab_size == 300
    tok.save(tmp_path / "tokenizer.json")
    assert build_tokenizer(f"bpe:{tmp_path / 'tokenizer.json'}", text) == tok


@pytest.mark.slow
def test_cl100k_exports_to_hugging_face():
    pytest.importorskip("tokenizers")
    cl100k = BPETokenizer.from_tiktoken("cl100k_base")
    hf = cl100k.to_hf()
    for text in corpus(with_specials=True):
        assert hf.encode(text).ids == cl100k.encode(text, allowed_special="all"), text


def test_special_that_is_also_a_token_cannot_go_to_hugging_face():
    from glassgpt.errors import TokenizerError

    tok = BPETokenizer([(97, 98)], "gpt4", {"ab": 300})
    with pytest.raises(TokenizerError, match="also an ordinary token"):
        tok.to_hf_dict()
