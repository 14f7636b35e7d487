"""A small BPE tokenizer with <|endoftext|>, built on the spot (no network)."""

from __future__ import annotations

import pytest
from distrun import Jobs
from scaledata import make_docs

from glassgpt.tokenizers import BPETokenizer


@pytest.fixture(scope="session")
def bpe_file(tmp_path_factory):
    """A 400-token gpt4-pattern BPE tokenizer file with <|endoftext|>."""
    tok = BPETokenizer.train("".join(make_docs(60, seed=99)), vocab_size=400, special_tokens=["<|endoftext|>"])
    path = tmp_path_factory.mktemp("tok") / "bpe.json"
    tok.save(path)
    return path


@pytest.fixture(scope="session")
def bpe(bpe_file):
    return BPETokenizer.load(bpe_file)


@pytest.fixture
def jobs():
    """Real torchrun jobs; whatever is still running when the test ends is killed."""
    started = Jobs()
    yield started
    started.stop_all()
