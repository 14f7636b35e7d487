"""Word lists: parsing, vocabulary, the seeded word split, context-window examples, bad input."""

import random

import numpy as np
import pytest

from glassgpt.data import load_corpus
from glassgpt.errors import DataError, GlassError, TokenizerError
from glassgpt.makemore.words import (
    build_examples,
    build_sequences,
    encode_word,
    parse_words,
    prepare_words,
    read_words,
    split_words,
    word_vocabulary,
)

WORDS = ["emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia", "harper", "evelyn"]


def _sentence(err) -> str:
    msg = str(err)
    assert isinstance(err, GlassError) and "\n" not in msg and msg.endswith(".")
    return msg


def test_parse_strips_lines_and_counts_skipped_empty_ones():
    wl = parse_words("emma\n\n  olivia \r\n\t\nava\n\n", source="names.txt")
    assert wl.words == ["emma", "olivia", "ava"]
    assert wl.skipped == 3  # "", "\t" and "" (the final "\n" ends the last line, no extra word)
    assert wl.summary() == "3 words from names.txt (3 empty lines skipped)"
    assert parse_words("a\nb\nc").summary() == "3 words from the text"


def test_read_words_from_a_file_with_crlf_and_bom(tmp_path):
    p = tmp_path / "names.txt"
    p.write_bytes(b"\xef\xbb\xbfemma\r\nolivia\r\n\r\nava\r\n")
    wl = read_words(p)
    assert wl.words == ["emma", "olivia", "ava"] and wl.skipped == 1 and wl.source == str(p)


@pytest.mark.parametrize(
    "content, needle",
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"  \n\n", "only whitespace"),
        (b"emma\x00olivia\n", "binary"),
        (b"jos\xe9\nemma\nava\n", "not valid UTF-8"),
    ],
)
def test_bad_files_are_one_sentence(tmp_path, content, needle):
    p = tmp_path / "names.txt"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(DataError) as e:
        read_words(p)
    assert needle in _sentence(e.value) and str(p) in str(e.value)


@pytest.mark.parametrize(
    "text, found", [("emma\n\nolivia\n", "only 2 words"), ("emma\n", "only 1 word "), ("\n\n \n", "no words")]
)
def test_fewer_than_three_words_is_refused(text, found):
    with pytest.raises(DataError) as e:
        parse_words(text, source="list.txt")
    msg = _sentence(e.value)
    assert found in msg and "at least 3" in msg and "list.txt" in msg


def test_a_word_with_the_end_token_is_refused_naming_the_line():
    with pytest.raises(DataError) as e:
        parse_words("emma\nst. john\nava\n")
    assert "line 2" in _sentence(e.value) and "'st. john'" in str(e.value)


def test_vocabulary_is_dot_then_sorted_characters():
    tok = word_vocabulary(["zoe", "anne marie", "bo-b"])
    assert tok.chars == [".", " ", "-", "a", "b", "e", "i", "m", "n", "o", "r", "z"]
    assert tok.encode(".") == [0]
    assert word_vocabulary(WORDS).vocab_size == 1 + len(set("".join(WORDS)))


def test_names_corpus_has_27_symbols():
    wl = parse_words(load_corpus("names"), source="names")
    assert word_vocabulary(wl.words).vocab_size == 27 and wl.skipped == 0 and len(wl.words) > 5000


def test_unknown_character_is_refused_naming_it_and_the_word():
    tok = word_vocabulary(WORDS)
    with pytest.raises(TokenizerError) as e:
        encode_word(tok, "zoé")
    msg = _sentence(e.value)
    assert "'zoé'" in msg and "'z'" in msg
    with pytest.raises(TokenizerError):
        build_examples(["emma", "zoé"], tok, 3)
    assert tok.decode(encode_word(tok, "olivia")) == "olivia"


def test_split_is_the_reference_shuffle_with_80_10_10_cuts():
    words = [f"w{i}" for i in range(1000)]
    splits = split_words(words, seed=42)
    ref = list(words)
    random.seed(42)  # the reference: the module-level shuffle after random.seed
    random.shuffle(ref)
    assert splits["train"] == ref[:800] and splits["dev"] == ref[800:900] and splits["test"] == ref[900:]
    assert words == [f"w{i}" for i in range(1000)]  # the caller's list is not shuffled
    assert split_words(words, seed=42) == splits
    assert split_words(words, seed=7)["train"] != splits["train"]


@pytest.mark.parametrize(
    "n, sizes",
    [(3, (1, 1, 1)), (4, (2, 1, 1)), (5, (3, 1, 1)), (10, (8, 1, 1)), (11, (8, 1, 2)), (32033, (25626, 3203, 3204))],
)
def test_split_sizes_keep_a_word_in_every_split(n, sizes):
    splits = split_words([f"w{i}" for i in range(n)])
    assert tuple(len(splits[s]) for s in ("train", "dev", "test")) == sizes
    assert sorted(sum(splits.values(), [])) == sorted(f"w{i}" for i in range(n))


def test_examples_of_one_word_by_hand():
    tok = word_vocabulary(["emma", "ava", "bob"])  # . a b e m o v
    X, Y = build_examples(["emma"], tok, 3)
    assert X.dtype == np.int64 and Y.dtype == np.int64 and X.shape == (5, 3)
    contexts = ["".join(tok.chars[i] for i in row) for row in X]
    assert contexts == ["...", "..e", ".em", "emm", "mma"]
    assert tok.decode(Y) == "emma."


def test_examples_count_every_character_and_end_and_slide_over_long_words():
    tok = word_vocabulary(WORDS)
    X, Y = build_examples(WORDS, tok, 3)
    assert len(X) == len(Y) == sum(len(w) + 1 for w in WORDS)
    assert (Y == 0).sum() == len(WORDS)
    # "charlotte" (9 letters) with a context of 2: every character is predicted from the two before it
    X2, Y2 = build_examples(["charlotte"], tok, 2)
    text = "..charlotte."
    for i, (row, y) in enumerate(zip(X2, Y2)):
        assert tok.decode(row) == text[i : i + 2] and tok.decode([y]) == text[i + 2]
    with pytest.raises(DataError):
        build_examples(WORDS, tok, 0)


def test_sequences_hold_the_same_targets_as_the_windows():
    tok = word_vocabulary(WORDS)
    X, Y = build_sequences(["ava", "emma"], tok)
    assert X.shape == Y.shape == (2, 5)
    assert tok.decode(X[0]) == ".ava." and Y[0].tolist() == tok.encode("ava.") + [-1]
    assert tok.decode(X[1]) == ".emma" and tok.decode(Y[1]) == "emma."
    Xa, Ya = build_sequences(WORDS, tok)
    _, Yw = build_examples(WORDS, tok, 4)
    assert sorted(Ya[Ya >= 0].tolist()) == sorted(Yw.tolist())
    with pytest.raises(DataError) as e:
        build_sequences(WORDS, tok, block_size=5)
    assert "at least 10" in _sentence(e.value)  # "charlotte" + "."


def test_prepare_words_puts_every_word_in_one_split():
    data = prepare_words(parse_words("\n".join(WORDS * 3)), seed=1)
    assert data.seed == 1 and data.vocab_size == 1 + len(set("".join(WORDS)))
    assert [len(data.splits[s]) for s in ("train", "dev", "test")] == [24, 3, 3]
    Xtr, Ytr = data.examples("train", 3)
    assert len(Xtr) == sum(len(w) + 1 for w in data.splits["train"])
    with pytest.raises(DataError):
        data.examples("val", 3)
