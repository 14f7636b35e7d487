"""BPE training: the fast incremental trainer learns exactly the merges of the naive
recount-everything algorithm (``learn_merges_by_recount``, in the library beside it)."""

from collections import Counter

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bpe_corpus import big_text

from glassgpt.tokenizers import BPETokenizer
from glassgpt.tokenizers.bpe_train import learn_merges, learn_merges_by_recount
from glassgpt.tokenizers.patterns import GPT2, GPT4


def reference_merges(text: str, num_merges: int, pattern: str | None) -> list[tuple[int, int]]:
    """The textbook algorithm on a text: split with the pattern, then ``learn_merges_by_recount``."""
    chunks = regex.findall(pattern, text) if pattern else [text]
    return learn_merges_by_recount([c.encode("utf-8") for c in chunks], num_merges)


small_text = st.text(alphabet=st.sampled_from(list("aab ba\n.é1")), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(text=small_text, n=st.integers(1, 25), pattern=st.sampled_from(["gpt4", "gpt2", "none"]))
def test_merges_equal_the_brute_force_reference(text, n, pattern):
    regex_text = {"gpt4": GPT4, "gpt2": GPT2, "none": None}[pattern]
    tok = BPETokenizer.train(text, vocab_size=256 + n, pattern=pattern)
    assert tok.merges == reference_merges(text, n, regex_text)


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=12).map(lambda b: bytes(x % 3 for x in b)), min_size=1, max_size=10),
    n=st.integers(1, 30),
)
def test_learn_merges_with_overlapping_pairs(chunks, n):
    """Runs like ``a a a`` (overlapping pairs) are where incremental counting goes wrong."""
    assert learn_merges(Counter(chunks), n) == learn_merges_by_recount([list(c) for c in chunks], n)


varied_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=120)  # any valid Unicode
words_and_spaces = st.lists(
    st.sampled_from(["the", " the", " cat", "  ", "\n", "héllo", " 42", "!!", "日本", "🙂"]), min_size=1, max_size=40
).map("".join)


@settings(max_examples=100, deadline=None)
@given(
    text=st.one_of(varied_text, words_and_spaces),
    n=st.integers(1, 40),
    pattern=st.sampled_from(["gpt4", "gpt2", "none"]),
)
def test_merges_equal_the_recount_on_varied_texts(text, n, pattern):
    """Multi-byte characters, emoji, runs of spaces and digits: the heap trainer and the
    recount trainer learn the same merges, in the same order."""
    regex_text = {"gpt4": GPT4, "gpt2": GPT2, "none": None}[pattern]
    assert BPETokenizer.train(text, vocab_size=256 + n, pattern=pattern).merges == reference_merges(text, n, regex_text)


def test_recount_trainer_on_a_worked_example():
    """ "aaabdaaabac" by hand: (a, a) occurs 4 times (overlaps count); then (a, b) and (256, a)
    tie at 2 and the smaller pair wins; then (256, 257) at 2; then four pairs tie at 1 and
    (a, c) = (97, 99) is the smallest."""
    expected = [(97, 97), (97, 98), (256, 257), (97, 99)]
    assert learn_merges_by_recount([b"aaabdaaabac"], 4) == expected
    assert learn_merges(Counter([b"aaabdaaabac"]), 4) == expected
    assert learn_merges_by_recount([b"ab", b"ab", b"c"], 10) == [(97, 98)]  # then nothing is left to merge


def test_overlapping_runs_exactly():
    assert learn_merges(Counter([b"aaaa", b"aaa"]), 3) == learn_merges_by_recount([list(b"aaaa"), list(b"aaa")], 3)


def test_ties_go_to_the_smallest_pair():
    tok = BPETokenizer.train("dcba", vocab_size=257, pattern="none")
    assert tok.merges == [(ord("b"), ord("a"))]  # all three pairs occur once; (98, 97) is smallest


def test_real_text_matches_reference():
    text = big_text()[:3000]
    assert BPETokenizer.train(text, 256 + 60).merges == reference_merges(text, 60, GPT4)


def test_merges_never_cross_chunks():
    tok = BPETokenizer.train(big_text(), 700, pattern="gpt2")
    for i in range(256, len(tok.mergeable_ranks)):
        piece = tok.token_bytes(i).decode("utf-8", errors="ignore")
        assert len(tok.split(piece)) <= 1, piece


def test_special_text_is_not_learned():
    text = "<|endoftext|>hello world" * 50
    tok = BPETokenizer.train(text, 300, special_tokens=["<|endoftext|>"])
    assert all(
        b"<|" not in tok.token_bytes(i) and b"|>" not in tok.token_bytes(i)
        for i in range(256, len(tok.mergeable_ranks))
    )
    assert tok.special_tokens == {"<|endoftext|>": tok.vocab_size - 1}
    assert tok.encode(text[:30], allowed_special="all")[0] == tok.vocab_size - 1


def test_ids_layout_and_early_stop():
    tok = BPETokenizer.train("abab", vocab_size=1000, special_tokens=["<s>", "</s>"])
    assert tok.merges == [(97, 98), (256, 256)]  # then no pair is left
    assert tok.special_tokens == {"<s>": 258, "</s>": 259}
    assert tok.vocab_size == 260


def test_training_is_deterministic_and_shows_progress(capsys):
    text = big_text()
    a = BPETokenizer.train(text, 500, progress=True)
    b = BPETokenizer.train(text, 500, progress=False)
    assert a == b


@pytest.mark.parametrize("pattern", ["gpt4", "gpt2", "none", r"\w+|\s+"])
def test_custom_and_builtin_patterns_train_and_round_trip(pattern):
    text = big_text()
    tok = BPETokenizer.train(text, 400, pattern=pattern)
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(text)) < len(text.encode("utf-8"))
