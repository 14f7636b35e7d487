"""Special tokens follow tiktoken's policy: refused by default, ids when allowed,
plain text when asked."""

import pytest
from test_bpe_corpus import big_text

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers import BPETokenizer

EOT, SEP = "<|endoftext|>", "<|sep|>"


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer.train(big_text(), 400, special_tokens=[EOT, SEP])


def test_ids_follow_the_merges(tok):
    assert tok.special_tokens == {EOT: 398, SEP: 399}


def test_refused_by_default_with_a_clear_error(tok):
    with pytest.raises(TokenizerError, match=r"special token '<\|sep\|>' at character 2; allow it"):
        tok.encode("a " + SEP)


def test_allowed_all_or_some(tok):
    text = f"one{EOT}two{SEP}"
    assert tok.encode(text, allowed_special="all") == tok.encode("one") + [398] + tok.encode("two") + [399]
    with pytest.raises(TokenizerError, match="sep"):  # SEP still disallowed
        tok.encode(text, allowed_special={EOT})
    ids = tok.encode(text, allowed_special={EOT}, disallowed_special=())
    assert ids[: len(tok.encode("one")) + 1][-1] == 398 and 399 not in ids
    assert tok.decode(ids) == text


def test_plain_text_when_asked(tok):
    text = f"x{EOT}y"
    ids = tok.encode(text, disallowed_special=())
    assert ids == tok.encode_ordinary(text) and 398 not in ids
    assert tok.decode(ids) == text


def test_only_the_named_specials_are_checked(tok):
    assert 399 not in tok.encode(f"{SEP}", disallowed_special={EOT})
    with pytest.raises(TokenizerError):
        tok.encode(EOT, disallowed_special={EOT})


def test_unknown_special_names_are_errors(tok):
    with pytest.raises(TokenizerError, match="not a special token"):
        tok.encode("x", allowed_special={"<|nope|>"})
    with pytest.raises(TokenizerError, match="'all' or a collection"):
        tok.encode("x", allowed_special=EOT)


def test_decode_renders_specials_and_splits_at_them(tok):
    assert tok.decode([398, 399]) == EOT + SEP
    assert tok.token_bytes(399) == SEP.encode()
    assert tok.token_str(398) == EOT


def test_explicit_ids_and_gaps():
    tok = BPETokenizer([], "gpt2", {EOT: 300})
    assert tok.vocab_size == 301
    with pytest.raises(TokenizerError, match="not assigned"):
        tok.decode([280])
    assert tok.encode(EOT, allowed_special="all") == [300]


def test_no_specials_means_plain_text():
    tok = BPETokenizer([], "gpt4")
    assert tok.encode(EOT) == list(EOT.encode())
