"""Encoding and decoding: exact round trips, lone surrogates refused, clear errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bpe_corpus import big_text, corpus

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers import BPETokenizer, bpe_encode
from glassgpt.tokenizers.bpe_parallel import cut_points, split_text

PATTERNS = ["gpt4", "gpt2", "none", r"\p{L}+"]  # the custom one leaves gaps: they become 1-char chunks


@pytest.fixture(scope="module")
def trained():
    return {p: BPETokenizer.train(big_text(), 600, pattern=p, special_tokens=["<|endoftext|>"]) for p in PATTERNS}


@pytest.fixture(scope="module")
def cl100k():
    return BPETokenizer.from_tiktoken("cl100k_base")


@settings(max_examples=150, deadline=None)
@given(text=st.text(), pattern=st.sampled_from(PATTERNS))
def test_round_trip_any_text(trained, text, pattern):
    tok = trained[pattern]
    ids = tok.encode(text, disallowed_special=())
    assert tok.decode(ids) == text
    assert b"".join(tok.token_bytes(i) for i in ids) == text.encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(text=st.text())
def test_round_trip_cl100k(cl100k, text):
    assert cl100k.decode(cl100k.encode(text, disallowed_special=())) == text


@pytest.mark.parametrize("text", corpus(with_specials=False))
def test_round_trip_corpus(trained, cl100k, text):
    for tok in [*trained.values(), cl100k]:
        assert tok.decode(tok.encode(text)) == text


@settings(max_examples=50, deadline=None)
@given(before=st.text(max_size=10), after=st.text(max_size=10), cp=st.integers(0xD800, 0xDFFF))
def test_lone_surrogates_are_refused(trained, cl100k, before, after, cp):
    """Decision: a lone surrogate has no UTF-8 bytes, so encode raises a clear error
    (tiktoken would silently turn it into U+FFFD and break the round trip)."""
    text = before + chr(cp) + after
    for tok in (trained["gpt4"], cl100k):
        with pytest.raises(TokenizerError, match="lone surrogate"):
            tok.encode(text)
        with pytest.raises(TokenizerError, match="lone surrogate"):
            tok.encode_corpus(text)
    with pytest.raises(TokenizerError, match="lone surrogate"):
        BPETokenizer.train(text, 300)


@pytest.mark.parametrize(
    "text", ["\u0301", "\u0301\u0301\u0301", "a\u0301", " \u0301x", "\u20dd\u0308 ", "\u0301\n\u0301"]
)
def test_lone_combining_marks(trained, cl100k, text):
    for tok in [*trained.values(), cl100k]:
        assert tok.decode(tok.encode(text)) == text


def test_decode_invalid_utf8_replace_or_strict(cl100k):
    ids = cl100k.encode("é")
    part = [i for i in range(256) if cl100k.token_bytes(i) == b"\xc3"]
    assert cl100k.decode(part) == "\ufffd"
    with pytest.raises(TokenizerError, match="not valid UTF-8"):
        cl100k.decode(part, errors="strict")
    assert cl100k.decode(ids, errors="strict") == "é"


@pytest.mark.parametrize("bad", [[-1], [100277], [10**12], [100261], [1, 2, 100300]])
def test_decode_bad_ids_are_clear_errors(cl100k, bad):
    with pytest.raises(TokenizerError, match=r"id -?\d+ "):
        cl100k.decode(bad)
    with pytest.raises(TokenizerError):
        cl100k.token_bytes(bad[-1])


def test_decode_renders_specials(cl100k):
    assert cl100k.decode([9906, 100257, 1917]) == "Hello<|endoftext|> world"
    assert cl100k.token_bytes(100257) == b"<|endoftext|>"


@settings(max_examples=200, deadline=None)
@given(piece=st.binary(min_size=0, max_size=120).map(lambda b: bytes(x % 4 + 97 for x in b)))
def test_long_chunk_heap_equals_scan(trained, cl100k, piece):
    """The n log n heap path gives the same ids as the plain quadratic scan."""
    for tok in (trained["none"], cl100k):
        ranks = tok._ranks
        if not piece:
            continue
        scan = _scan(piece, ranks)
        assert bpe_encode._bpe_long(piece, ranks) == scan


def _scan(piece, ranks):
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while True:
        cands = [(ranks[parts[i] + parts[i + 1]], i) for i in range(len(parts) - 1) if parts[i] + parts[i + 1] in ranks]
        if not cands:
            return [ranks[p] for p in parts]
        _, i = min(cands)
        parts[i : i + 2] = [parts[i] + parts[i + 1]]


def test_chunk_cache_does_not_change_ids(trained):
    tok = trained["gpt4"]
    text = big_text()
    first = tok.encode(text)
    assert tok.encode(text) == first
    tok._cache.clear()
    assert tok.encode(text) == first


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab .,\n\n\t1é😀'sS")), max_size=300),
    size=st.integers(1, 40),
    pattern=st.sampled_from(["gpt4", "gpt2"]),
)
def test_cut_points_do_not_change_ids(trained, text, size, pattern):
    tok = trained[pattern]
    pieces = split_text(text, cut_points(text, pattern, tok.special_tokens, size))
    assert "".join(pieces) == text
    assert [i for p in pieces for i in tok.encode(p)] == tok.encode(text)


def test_custom_patterns_are_never_cut():
    assert cut_points("a\nb\n" * 100, "custom", {}, 3) == [] and cut_points("a\nb" * 100, "none", {}, 3) == []


def test_batch_and_file_use_processes_and_equal_encode(trained, tmp_path):
    tok = trained["gpt4"]
    texts = corpus() * 2
    assert tok.encode_batch(texts, processes=2) == [tok.encode(t) for t in texts]
    path = tmp_path / "corpus.txt"
    text = big_text() + "<|endoftext|>tail"
    path.write_text(text, encoding="utf-8")
    assert tok.encode_file(path, processes=2, piece_chars=500) == tok.encode(text, allowed_special="all")
    with pytest.raises(TokenizerError, match="special token"):
        tok.encode_batch(["x", "<|endoftext|>"], processes=1)
