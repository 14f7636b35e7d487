"""A vocabulary padded for speed (GPT-2's 50,257 ids in 50,304 rows) never shows its padding:
no generation path samples a padded id, and explain, evaluation and multiple choice see only
the real ids.  The padded rows here are poisoned (a huge head bias) so that any path that let
them through would pick them."""

from __future__ import annotations

import math
import string

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from glassgpt.config import ModelConfig
from glassgpt.evaluation.loss import model_nll_sum
from glassgpt.evaluation.multiple_choice import MCRecord, score_records
from glassgpt.explain import explain
from glassgpt.generation.sampling import generate, generate_batch, sample_text
from glassgpt.generation.streaming import stream_tokens
from glassgpt.models import GPT
from glassgpt.tokenizers import CharTokenizer

VOCAB = 50


@pytest.fixture(scope="module")
def poisoned():
    tok = CharTokenizer.train((string.ascii_letters[: VOCAB - 2] + " .") * 3)
    assert tok.vocab_size == VOCAB
    cfg = ModelConfig(
        vocab_size=VOCAB,
        block_size=16,
        n_layer=1,
        n_head=2,
        n_embd=16,
        pad_vocab_to=64,
        tie_weights=False,
        head_bias=True,
    )
    torch.manual_seed(0)
    model = GPT(cfg).eval()
    with torch.no_grad():
        model.lm_head.bias[VOCAB:] = 1e4  # would win every argmax and every draw if it got through
    assert model.lm_head.weight.shape[0] == 64
    return model, tok


def test_the_model_gives_logits_for_real_ids_only(poisoned):
    model, _ = poisoned
    logits, loss = model(torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long))
    assert logits.shape[-1] == VOCAB and loss < 100
    cache = model.new_kv_cache(1, 8)
    assert model(torch.zeros(1, 3, dtype=torch.long), kv_cache=cache, last_only=True)[0].shape == (1, 1, VOCAB)


@pytest.mark.parametrize(
    "kw",
    [
        dict(temperature=0.0),
        dict(temperature=2.0),
        dict(temperature=1.0, top_k=60),
        dict(temperature=1.0, top_p=1.0),
        dict(temperature=1.0, use_cache=False),
    ],
)
def test_no_generation_path_samples_a_padded_id(poisoned, kw):
    model, tok = poisoned
    out = generate(model, [1, 2, 3], 40, num_samples=3, seed=0, **kw)  # 40 > the context: cropping too
    assert all(0 <= i < VOCAB for row in out for i in row)
    rows = generate_batch(model, [[1], [4, 5, 6, 7]], 20, seed=1, temperature=kw["temperature"])  # left-padded
    assert all(0 <= i < VOCAB for row in rows for i in row)


def test_streams_and_text_never_see_a_padded_id(poisoned):
    model, tok = poisoned
    streamed = list(stream_tokens(model, [1, 2], 30, temperature=1.5, seed=3, top=VOCAB + 5))
    assert all(t.id < VOCAB and len(t.top) == VOCAB and all(i < VOCAB for i, _ in t.top) for t in streamed)
    assert math.isclose(sum(p for _, p in streamed[0].top), 1.0, rel_tol=1e-5)
    text = sample_text(model, tok, "ab", 30, temperature=1.0, seed=0)[0]
    assert set(text) <= set(tok.decode(range(VOCAB)))


def test_explain_evaluation_and_multiple_choice_score_real_ids_only(poisoned):
    model, tok = poisoned
    result = explain(model, tok, "abc defg hij.", top_k=VOCAB + 10)
    for row in result["tokens"]:
        assert len(row["top_k"]) == VOCAB and abs(row["grad_row_sum"]) < 1e-6
        assert math.isclose(sum(p for _, p in row["top_k"]), 1.0, rel_tol=1e-6)
    x = np.array([tok.encode("abcdefgh")])
    y = np.array([tok.encode("bcdefghi")])
    total, count = model_nll_sum(model)(x, y)
    logits = model(torch.from_numpy(x))[0].detach()
    assert count == 8 and total == pytest.approx(
        float(F.cross_entropy(logits[0], torch.from_numpy(y[0]), reduction="sum")), rel=1e-6
    )
    assert total < 8 * 10  # a padded logit of 1e4 in the softmax would make it enormous
    mc = score_records(model, tok, [MCRecord(1, "abc", ["de", "fgh"], 0)])
    assert all(0 < loss < 20 for loss in mc.details[0]["sum_losses"])
