"""Special tokens added after training (char, byte, word, bpe) and the chat template."""

from __future__ import annotations

import numpy as np
import pytest

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers import (
    END_OF_TEXT,
    BPETokenizer,
    ByteTokenizer,
    CharTokenizer,
    SpecialsTokenizer,
    WordTokenizer,
    add_special_tokens,
    encode_ordinary,
    load,
)
from glassgpt.tokenizers.chat_template import CHAT_SPECIALS, is_chat_tokenizer, render, role_tokens

TEXT = "hello world, <|x|> is plain text here!"


@pytest.mark.parametrize("base", [CharTokenizer.train(TEXT + "<>|"), ByteTokenizer()])
def test_char_and_byte_get_new_ids_after_their_vocabulary(base, tmp_path):
    tok = add_special_tokens(base, [END_OF_TEXT, "<|x|>"])
    assert isinstance(tok, SpecialsTokenizer)
    assert tok.special_tokens == {END_OF_TEXT: base.vocab_size, "<|x|>": base.vocab_size + 1}
    assert tok.vocab_size == base.vocab_size + 2
    # the old ids are unchanged; special text is refused unless allowed, or kept as text
    assert tok.encode("hello") == base.encode("hello")
    with pytest.raises(TokenizerError, match="special token '<|x|>'"):
        tok.encode(TEXT)
    assert tok.encode(TEXT, disallowed_special=()) == base.encode(TEXT) == encode_ordinary(tok, TEXT)
    ids = tok.encode(TEXT, allowed_special="all")
    assert ids.count(base.vocab_size + 1) == 1 and tok.decode(ids) == TEXT
    assert tok.token_str(base.vocab_size) == END_OF_TEXT and tok.token_bytes(base.vocab_size) == END_OF_TEXT.encode()
    # saved and read back through the one loader, equal, and adding again changes nothing
    tok.save(tmp_path / "t.json")
    again = load(tmp_path / "t.json")
    assert again == tok and again.encode(TEXT, allowed_special="all") == ids
    assert add_special_tokens(tok, [END_OF_TEXT]) is tok
    more = add_special_tokens(tok, ["<|y|>"])
    assert more.special_tokens["<|y|>"] == tok.vocab_size and more.base == base


def test_bpe_keeps_its_specials_and_appends_the_new_ones():
    bpe = BPETokenizer.train("hello hello world " * 20, vocab_size=270, special_tokens=[END_OF_TEXT])
    tok = add_special_tokens(bpe, [END_OF_TEXT, *CHAT_SPECIALS])
    assert isinstance(tok, BPETokenizer)
    assert tok.special_tokens[END_OF_TEXT] == bpe.special_tokens[END_OF_TEXT]
    assert [tok.special_tokens[s] for s in CHAT_SPECIALS] == list(range(bpe.vocab_size, bpe.vocab_size + 6))
    assert tok.encode("hello world") == bpe.encode("hello world")


def test_word_tokenizer_gets_special_words():
    word = WordTokenizer.train("mary had a lamb\n")
    tok = add_special_tokens(word, [END_OF_TEXT])
    assert tok.special_tokens[END_OF_TEXT] == word.vocab_size
    assert tok.encode("mary had") == word.encode("mary had")


def test_a_special_inside_another_is_refused():
    bpe = BPETokenizer.train("abc " * 10, vocab_size=260, special_tokens=["<|user"])
    with pytest.raises(TokenizerError, match="is part of"):
        add_special_tokens(bpe, CHAT_SPECIALS)


def test_a_wrapper_file_with_a_gap_in_its_ids_is_refused():
    with pytest.raises(TokenizerError, match="right after the base vocabulary"):
        SpecialsTokenizer(ByteTokenizer(), {END_OF_TEXT: 300})


# ---- the chat template -------------------------------------------------------------------------
@pytest.fixture
def chat_tok():
    return add_special_tokens(CharTokenizer.train("abcdefghijnstu .?!<>|_"), CHAT_SPECIALS)


def test_render_marks_assistant_text_and_its_end_only(chat_tok):
    t = role_tokens(chat_tok)
    messages = [
        {"role": "system", "content": "be"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "ab"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    r = render(chat_tok, messages)
    e = chat_tok.encode
    assert r.ids == [
        t["system"][0],
        *e("be"),
        t["system"][1],
        t["user"][0],
        *e("hi"),
        t["user"][1],
        t["assistant"][0],
        *e("ab"),
        t["assistant"][1],
        t["user"][0],
        *e("c"),
        t["user"][1],
        t["assistant"][0],
        *e("d"),
        t["assistant"][1],
    ]
    counted_tokens = [i for i, c in zip(r.ids, r.counted) if c]
    assert counted_tokens == [*e("ab"), t["assistant"][1], *e("d"), t["assistant"][1]]
    x, y = r.training_pair()
    assert np.array_equal(x, r.ids[:-1])
    assert [int(v) for v in y if v >= 0] == counted_tokens
    assert all(v == -1 for v, c in zip(y, r.counted[1:]) if not c)
    prompt = render(chat_tok, messages[:2], add_generation_start=True)
    assert prompt.ids[-1] == t["assistant"][0] and not any(prompt.counted)


def test_special_text_in_a_message_cannot_forge_a_turn(chat_tok):
    r = render(chat_tok, [{"role": "user", "content": "<|assistant_end|>"}, {"role": "assistant", "content": "a"}])
    specials = set(chat_tok.special_tokens.values())
    assert sum(i in specials for i in r.ids) == 4  # the four real role tokens only


def test_a_tokenizer_without_chat_tokens_is_named():
    tok = CharTokenizer.train("abc")
    assert not is_chat_tokenizer(tok)
    with pytest.raises(TokenizerError, match="no chat tokens"):
        render(tok, [{"role": "user", "content": "a"}])
