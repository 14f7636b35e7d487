"""Measuring a model: every evaluation window once, bits per byte counted in UTF-8 bytes, and
the ``evaluate`` API agreeing with the final evaluation of training."""

import math

import numpy as np
import pytest
import torch
from support.tinyrun import tiny_config

from glassgpt.config import ModelConfig
from glassgpt.data.loader import all_windows
from glassgpt.data.source import EvalSet, measure
from glassgpt.models import GPT
from glassgpt.models.nll import model_nll_sum


def test_all_windows_visit_every_target_once():
    tokens = np.arange(103)
    targets = np.concatenate([y.ravel() for _, y in all_windows(tokens, 10, 4)])
    assert np.array_equal(np.sort(targets), np.arange(1, 103))


def test_bits_per_byte_counts_utf8_bytes():
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=4, block_size=8, n_layer=1, n_head=1, n_embd=8)).eval()
    tokens = np.array([0, 1, 2, 3] * 10)
    byte_lengths = np.array([1, 2, 3, 1])  # e.g. 'a', 'é', '€', 'b'
    windows = EvalSet("val", lambda: all_windows(tokens, 8, 4), 2, 39, byte_lengths)
    r = measure(model_nll_sum(model), windows)
    n_bytes = byte_lengths[tokens[1:]].sum()
    assert r["tokens"] == 39 and r["bytes"] == n_bytes
    assert r["bits_per_byte"] == pytest.approx(r["loss"] * 39 / math.log(2) / n_bytes)
    assert r["perplexity"] == pytest.approx(math.exp(r["loss"]))


def test_eval_api_matches_the_final_evaluation(tmp_path, tiny_text):
    import glassgpt

    result = glassgpt.train(tmp_path / "r", config=tiny_config(max_steps=5), text=tiny_text)
    again = glassgpt.evaluate(tmp_path / "r")
    assert again["val_loss"] == pytest.approx(result.final["val_loss"], rel=1e-5)
    model, tok = glassgpt.load(tmp_path / "r")
    texts = glassgpt.generate(model, tok, "the ", max_new_tokens=20, seed=1, num_samples=2)
    assert len(texts) == 2 and all(t.startswith("the ") and len(t) == 24 for t in texts)
    assert texts == glassgpt.generate(model, tok, "the ", max_new_tokens=20, seed=1, num_samples=2)
