"""Speculative decoding: its output is distributed exactly as the large model's sampling
(a chi-square test on a tiny vocabulary, which a wrong acceptance rule fails), greedy text
equals the large model's greedy text, and a draft that cannot serve is refused."""

import itertools

import pytest
import torch

from glassgpt.config import ModelConfig
from glassgpt.errors import ConfigError
from glassgpt.generation import speculative
from glassgpt.generation.sampling import generate, sample_text
from glassgpt.generation.speculative import SpeculativeStats, check_draft, speculative_generate
from glassgpt.models import GPT
from glassgpt.tokenizers import ByteTokenizer, CharTokenizer

V, PROMPT, NEW = 4, [0, 1], 3


def tiny(seed: int, n_embd: int, scale: float = 3.0, block: int = 16) -> GPT:
    torch.manual_seed(seed)
    model = GPT(ModelConfig(vocab_size=V, block_size=block, n_layer=1, n_head=1, n_embd=n_embd)).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(scale)  # distributions far from uniform, and far from the draft's
    return model


def exact_distribution(model: GPT, temperature: float) -> dict[tuple[int, ...], float]:
    """P(sequence of NEW tokens) under the model's sampling, by enumerating every sequence."""
    out = {}
    with torch.no_grad():
        for seq in itertools.product(range(V), repeat=NEW):
            ids, p = list(PROMPT), 1.0
            for t in seq:
                probs = (model(torch.tensor([ids]))[0][0, -1] / temperature).softmax(-1)
                p *= float(probs[t])
                ids.append(t)
            out[seq] = p
    return out


def chi_square(counts: dict, expected: dict, n: int) -> float:
    return sum((counts.get(s, 0) - n * p) ** 2 / (n * p) for s, p in expected.items())


#: chi-square with 63 degrees of freedom (4³ outcomes): 99.9% of draws stay below 103.4
BOUND = 103.4
N = 3000


def sample_counts(target, draft, temperature: float, stats=None) -> dict:
    counts: dict = {}
    for seed in range(N):
        seq = tuple(
            speculative_generate(target, draft, PROMPT, NEW, guesses=2, temperature=temperature, seed=seed, stats=stats)
        )
        counts[seq] = counts.get(seq, 0) + 1
    return counts


@pytest.fixture(scope="module")
def pair():
    return tiny(0, 16), tiny(7, 8, scale=1.0)


@pytest.mark.slow
def test_output_is_distributed_as_the_large_models_sampling(pair):
    target, draft = pair
    expected = exact_distribution(target, 1.0)
    stats = SpeculativeStats()
    counts = sample_counts(target, draft, 1.0, stats)
    assert chi_square(counts, expected, N) < BOUND
    assert 0.2 < stats.acceptance_rate < 0.95  # the draft is a different model: some guesses fail
    # plain sampling of the same model passes the same test (the bound is not loose by accident)
    plain: dict = {}
    for row in generate(target, PROMPT, NEW, temperature=1.0, num_samples=N, seed=0):
        plain[tuple(row)] = plain.get(tuple(row), 0) + 1
    assert chi_square(plain, expected, N) < BOUND


@pytest.mark.slow
def test_a_wrong_acceptance_rule_fails_the_same_test(pair, monkeypatch):
    """Drawing from p itself after a rejection (instead of the residual max(0, p − q)) gives too
    much weight to what the draft also likes: the chi-square test catches it."""
    target, draft = pair
    monkeypatch.setattr(speculative, "residual", lambda p, q: p)
    counts = sample_counts(target, draft, 1.0)
    assert chi_square(counts, exact_distribution(target, 1.0), N) > 2 * BOUND


def test_greedy_text_is_the_large_models_greedy_text():
    target, draft = tiny(1, 32, block=24), tiny(2, 8, block=24)
    for prompt in ([0], [1, 2, 3], [3, 3]):
        stats = SpeculativeStats()
        fast = speculative_generate(target, draft, prompt, 40, guesses=4, temperature=0, stats=stats)  # past the block
        assert fast == generate(target, prompt, 40, temperature=0, max_context=24)[0]
        assert stats.target_passes < 40
    same = SpeculativeStats()
    speculative_generate(target, target, [0], 20, guesses=4, temperature=0, stats=same)
    assert same.acceptance_rate == 1.0 and same.target_passes == 4  # 20 tokens in 4 rounds of 4 + 1


def test_each_round_costs_the_target_one_pass_and_the_draft_one_per_guess():
    """The token a round ends with is read with the next round's guesses, not in a pass of its
    own; the draft reads its last guess only when it is kept (with the round's last token)."""
    target, draft = tiny(1, 32, block=64), tiny(2, 8, block=64)
    calls = {"target": 0, "draft": 0}
    for name, model in (("target", target), ("draft", draft)):
        model.register_forward_hook(lambda *_, name=name: calls.__setitem__(name, calls[name] + 1))
    stats = SpeculativeStats()
    assert (
        len(speculative_generate(target, draft, [1, 2, 3], 40, guesses=4, temperature=1.0, seed=0, stats=stats)) == 40
    )
    assert 0 in stats.per_round and 4 in stats.per_round  # some rounds end with a rejection, some keep every guess
    assert calls["target"] == 1 + stats.rounds == 1 + stats.target_passes  # the prompt, then one per round
    assert calls["draft"] == 1 + stats.proposed  # the prompt, then its guesses (its last one is read with the next)


def test_a_round_does_no_work_beyond_the_passes(monkeypatch):
    """Where the models live is looked up once per model, not at every pass (``device_of`` walks
    the whole state dict: as dear as a pass of a small draft)."""
    target, draft = tiny(1, 32, block=64), tiny(2, 8, block=64)
    looked = []
    real = speculative.device_of
    monkeypatch.setattr(speculative, "device_of", lambda model: looked.append(model) or real(model))
    stats = SpeculativeStats()
    speculative_generate(target, draft, [1, 2, 3], 40, guesses=4, temperature=1.0, seed=0, stats=stats)
    assert stats.rounds > 5
    assert len(looked) <= 3  # the generator's device, then each reader's


def test_a_draft_must_share_the_tokenizer_and_guess_a_sane_number():
    with pytest.raises(ConfigError, match="another tokenizer"):
        check_draft(CharTokenizer("abc"), ByteTokenizer(), 4, "runs/small")
    for k in (0, 33, 2.5):
        with pytest.raises(ConfigError, match="--draft-tokens must be a whole number from 1 to 32"):
            check_draft(ByteTokenizer(), ByteTokenizer(), k)


def test_sample_text_with_a_draft_gives_the_models_text_and_its_counts():
    tok = CharTokenizer("abcd")
    target, draft = tiny(3, 32), tiny(4, 8)
    stats: dict = {}
    fast = sample_text(target, tok, "ab", 12, temperature=0, num_samples=2, draft=draft, draft_tokens=3, stats=stats)
    assert fast == sample_text(target, tok, "ab", 12, temperature=0, num_samples=2)
    assert stats["proposed"] > 0 and 0 <= stats["acceptance_rate"] <= 1
    with pytest.raises(ConfigError, match="--draft and a constraint"):
        sample_text(target, tok, "ab", 5, draft=draft, regex="a+")
