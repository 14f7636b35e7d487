"""Batched sampling: N rows in one batch give exactly the tokens of N one-at-a-time samples
with the same per-row seeds, for prompts of different lengths, with a constraint too."""

import pytest
import torch

from glassgpt.config import ModelConfig
from glassgpt.errors import GlassError
from glassgpt.generation.automaton import TokenAutomaton
from glassgpt.generation.constraints import ConstrainedRow
from glassgpt.generation.sampling import generate, generate_batch
from glassgpt.models import GPT
from glassgpt.tokenizers import CharTokenizer


def model_of(vocab: int = 40, block: int = 48, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(ModelConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, n_embd=32)).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(3.0)  # varied, confident distributions: many different rows
    return model


def as_bytes(rows) -> bytes:
    return b"".join(torch.tensor(r, dtype=torch.int64).numpy().tobytes() + b"|" for r in rows)


@pytest.mark.parametrize("settings", [{"temperature": 1.0}, {"temperature": 0.7, "top_k": 5}, {"top_p": 0.9}])
def test_n_samples_in_one_batch_equal_n_single_samples(settings):
    model = model_of()
    batched = generate(model, [1, 2, 3], 40, num_samples=16, seed=100, **settings)
    alone = [generate(model, [1, 2, 3], 40, num_samples=1, seed=100 + i, **settings)[0] for i in range(16)]
    assert as_bytes(batched) == as_bytes(alone)
    assert len({tuple(r) for r in batched}) > 8


@pytest.mark.parametrize("use_cache", [True, False])
def test_prompts_of_different_lengths_with_their_own_seeds(use_cache):
    model = model_of(block=24)  # 30 new tokens: the longest rows pass the block size
    prompts = [[5], [7, 8, 9, 10, 11, 12, 13], [1, 2, 3], [20, 21, 22, 23, 24]]
    seeds = [11, 3, 2**32 - 1, 0]
    batched = generate_batch(model, prompts, 30, temperature=1.0, seed=seeds, use_cache=use_cache)
    alone = [generate_batch(model, [p], 30, temperature=1.0, seed=[s])[0] for p, s in zip(prompts, seeds)]
    assert as_bytes(batched) == as_bytes(alone)


def test_rows_that_stop_or_end_early_leave_the_others_alone():
    model = model_of(vocab=3)
    tok = CharTokenizer("abc")
    auto = TokenAutomaton("(a|b)+", tok)
    steer = lambda i: ConstrainedRow(auto)  # noqa: E731
    batched = generate(model, [0], 25, temperature=1.0, num_samples=12, seed=5, steer=steer)
    alone = [generate(model, [0], 25, temperature=1.0, seed=5 + i, steer=steer)[0] for i in range(12)]
    assert batched == alone
    assert len({len(r) for r in batched}) > 2  # rows ended at different steps


def test_seeds_must_match_the_rows():
    with pytest.raises(GlassError, match="2 seeds were given for 3 rows"):
        generate_batch(model_of(), [[1], [2], [3]], 4, seed=[1, 2])
    with pytest.raises(GlassError, match="seed"):
        generate_batch(model_of(), [[1]], 4, seed=[-1])
