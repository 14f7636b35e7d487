import pytest

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers import ByteTokenizer, CharTokenizer, WordTokenizer, from_dict, load


def test_char_round_trip_and_sorted_vocab(tmp_path):
    tok = CharTokenizer.train("hello, world\n")
    assert tok.chars == sorted(set("hello, world\n"))
    assert tok.decode(tok.encode("lol, held")) == "lol, held"
    tok.save(tmp_path / "t.json")
    assert load(tmp_path / "t.json") == tok


def test_char_unknown_character_is_named():
    tok = CharTokenizer.train("abc")
    with pytest.raises(TokenizerError, match=r"'z' \(U\+007A\)"):
        tok.encode("abz")


def test_ids_outside_the_vocabulary_are_clear_errors():
    for tok in (CharTokenizer.train("abc"), ByteTokenizer(), WordTokenizer.train("a b\n")):
        with pytest.raises(TokenizerError, match="outside this tokenizer's vocabulary"):
            tok.decode([tok.vocab_size])
        with pytest.raises(TokenizerError):
            tok.decode([-1])


def test_byte_tokenizer_handles_any_text_and_bad_utf8():
    tok = ByteTokenizer()
    text = "naïve café 🚀\n"
    assert tok.encode(text) == list(text.encode("utf-8"))
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode([0xF0, 0x9F]) == "\ufffd"  # a cut multi-byte character decodes with replacement
    with pytest.raises(UnicodeDecodeError):
        tok.decode([0xF0, 0x9F], errors="strict")
    assert tok.token_str(10) == "\\x0a" and tok.token_str(65) == "A"


def test_word_tokenizer_lines_end_with_end_word():
    text = "mary had a little lamb\nlittle lamb little lamb\n"
    tok = WordTokenizer.train(text)
    assert tok.words[0] == "<END>" and tok.words[1:] == sorted({"mary", "had", "a", "little", "lamb"})
    ids = tok.encode(text)
    assert len(ids) == 11 and ids[5] == tok.stoi["<END>"] and ids[-1] == tok.stoi["<END>"]
    assert tok.decode(ids) == "mary had a little lamb <END>\nlittle lamb little lamb <END>\n"
    assert tok.encode("mary had") == [tok.stoi["mary"], tok.stoi["had"]]
    assert tok.token_bytes(tok.stoi["lamb"]) == b"lamb "


def test_word_unknown_word_suggests_close_words():
    tok = WordTokenizer.train("mary had a little lamb\n")
    with pytest.raises(TokenizerError, match=r"'marry'.*closest known: mary.*known words:"):
        tok.encode("marry had")


def test_corrupted_tokenizer_data():
    with pytest.raises(TokenizerError, match="not a glassgpt tokenizer"):
        from_dict({"type": "sentencepiece"})
    with pytest.raises(TokenizerError, match="corrupted"):
        from_dict({"type": "char"})
    with pytest.raises(TokenizerError, match="distinct"):
        from_dict({"type": "char", "chars": "aab"})
