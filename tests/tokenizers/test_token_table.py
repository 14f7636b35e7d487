"""A tokenizer in a notebook: its token table (first and last ids, bytes, specials), escaped."""

from __future__ import annotations

from glassgpt.tokenizers import ByteTokenizer, CharTokenizer, add_special_tokens


def test_a_small_vocabulary_is_shown_whole_and_escaped():
    html = CharTokenizer.train("a<b&\n")._repr_html_()
    assert "CharTokenizer (char): 5 ids" in html
    assert "<td>0</td><td><code>\\n</code></td><td>0a</td>" in html  # control characters escaped
    assert "<td>1</td><td><code>&amp;</code></td><td>26</td>" in html
    assert "<td>2</td><td><code>&lt;</code></td><td>3c</td>" in html
    assert "more</td>" not in html


def test_a_large_vocabulary_shows_its_ends_and_its_special_tokens():
    tok = add_special_tokens(ByteTokenizer(), ["<|endoftext|>"])
    html = tok._repr_html_()
    assert "256 ids" not in html and "257 ids, 1 special" in html
    assert "<td>…</td><td>224 more</td>" in html  # 256 bytes: the first 24 and the last 8 shown
    assert "<td>23</td>" in html and "<td>24</td>" not in html and "<td>255</td><td><code>" in html
    assert "<td>256</td><td><code>&lt;|endoftext|&gt;</code></td><td>special</td>" in html
