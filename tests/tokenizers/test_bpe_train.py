"""BPE training: the fast incremental trainer learns exactly the merges of the naive
recount-everything algorithm, written out here as the reference."""

from collections import Counter

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bpe_corpus import big_text

from glassgpt.tokenizers import BPETokenizer
from glassgpt.tokenizers.bpe_train import learn_merges
from glassgpt.tokenizers.patterns import GPT2, GPT4


def reference_merges(text: str, num_merges: int, pattern: str | None) -> list[tuple[int, int]]:
    """The textbook algorithm on a text: split with the pattern, then ``_reference_on_chunks``."""
    chunks = regex.findall(pattern, text) if pattern else [text]
    return _reference_on_chunks([list(c.encode("utf-8")) for c in chunks], num_merges)


small_text = st.text(alphabet=st.sampled_from(list("aab ba\n.é1")), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(text=small_text, n=st.integers(1, 25), pattern=st.sampled_from(["gpt4", "gpt2", "none"]))
def test_merges_equal_the_brute_force_reference(text, n, pattern):
    regex_text = {"gpt4": GPT4, "gpt2": GPT2, "none": None}[pattern]
    tok = BPETokenizer.train(text, vocab_size=256 + n, pattern=pattern)
    assert tok.merges == reference_merges(text, n, regex_text)


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=12).map(lambda b: bytes(x % 3 for x in b)), min_size=1, max_size=10),
       n=st.integers(1, 30))
def test_learn_merges_with_overlapping_pairs(chunks, n):
    """Runs like ``a a a`` (overlapping pairs) are where incremental counting goes wrong."""
    assert learn_merges(Counter(chunks), n) == _reference_on_chunks([list(c) for c in chunks], n)


def _reference_on_chunks(words, n):
    """After every merge, recount every pair of every chunk (no deduplication, no incremental
    counts).  Ties: smallest (left, right)."""
    merges = []
    words = [list(w) for w in words]
    for k in range(n):
        stats = Counter(p for w in words for p in zip(w, w[1:]))
        if not stats:
            break
        best = max(stats, key=lambda p: (stats[p], -p[0], -p[1]))
        merges.append(best)
        for j, w in enumerate(words):
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(256 + k)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[j] = out
    return merges


def test_overlapping_runs_exactly():
    assert learn_merges(Counter([b"aaaa", b"aaa"]), 3) == _reference_on_chunks([list(b"aaaa"), list(b"aaa")], 3)


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
    assert all(b"<|" not in tok.token_bytes(i) and b"|>" not in tok.token_bytes(i) for i in range(256, len(tok.mergeable_ranks)))
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
