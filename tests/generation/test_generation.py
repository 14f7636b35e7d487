"""Generation: the KV cache changes speed, never results; batches of different lengths;
the trained context as a parameter; one set of sampling defaults."""

import dataclasses
import inspect
import json

import pytest
import torch
from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.cli import build_parser, main
from glassgpt.config import ModelConfig
from glassgpt.errors import GlassError
from glassgpt.generation.sampling import DEFAULTS, SamplingSettings, generate, generate_batch, sample_text
from glassgpt.models import GPT
from glassgpt.models.from_run import LoadedRun, load_run


def spread_model(block_size: int, vocab_size: int = 50, seed: int = 0) -> GPT:
    """A random model whose greedy choices are never near-ties that float rounding could flip
    (an untied head scaled up: logits of std ≈ 4.5, not 0.1) and whose greedy text does not
    fall into a one-token loop (position embeddings scaled up, so positions matter)."""
    torch.manual_seed(seed)
    model = GPT(
        ModelConfig(vocab_size=vocab_size, block_size=block_size, n_layer=2, n_head=4, n_embd=32, tie_weights=False)
    ).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)
        model.transformer.wpe.weight.mul_(5.0)
    return model


def stepwise_logits(model: GPT, prompt: list[int], steps: int, block: int):
    """Greedy decoding by hand, both ways at every step: the last-position logits of a full
    forward over the last ``block`` tokens, and of a KV-cached forward (one new token per
    step, restarted from the window whenever the context is full).  Follows the cached choice."""
    seq, cache, full_rows, cached_rows = list(prompt), None, [], []
    with torch.no_grad():
        for _ in range(steps):
            window = torch.tensor([seq[-block:]])
            full_rows.append(model(window)[0][0, -1])
            if len(seq) > block:
                cache = None  # positions shift: nothing cached can be reused
                cached = model(window, last_only=True)[0][0, -1]
            elif cache is None:
                cache = model.new_kv_cache(1, block)
                cached = model(window, kv_cache=cache, last_only=True)[0][0, -1]
            else:
                cached = model(torch.tensor([seq[-1:]]), kv_cache=cache, last_only=True)[0][0, -1]
            cached_rows.append(cached)
            seq.append(int(cached.argmax()))
    return seq[len(prompt) :], torch.stack(full_rows), torch.stack(cached_rows)


@pytest.mark.parametrize("block_size, prompt_len", [(256, 7), (48, 30)])  # 48: runs far past the block size
def test_cached_greedy_200_tokens_equal_uncached_and_logits_agree(block_size, prompt_len):
    model = spread_model(block_size)
    prompt = [(3 * i + 1) % 50 for i in range(prompt_len)]
    cached = generate(model, prompt, 200, temperature=0, use_cache=True)[0]
    plain = generate(model, prompt, 200, temperature=0, use_cache=False)[0]
    assert len(cached) == 200 and cached == plain
    by_hand, full, stepped = stepwise_logits(model, prompt, 200, block_size)
    assert by_hand == cached
    assert (full - stepped).abs().max().item() < 1e-5  # at every one of the 200 steps
    assert len(set(cached)) > 10  # not one token repeated: the cache is exercised on varied text


def test_cached_sampling_draws_the_same_tokens():
    model = spread_model(32)
    a = generate(model, [1, 2, 3], 60, temperature=1.0, top_k=10, seed=3, num_samples=3, use_cache=True)
    b = generate(model, [1, 2, 3], 60, temperature=1.0, top_k=10, seed=3, num_samples=3, use_cache=False)
    assert a == b and len({tuple(r) for r in a}) == 3


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("block_size", [64, 16])  # 16: the longest row passes the block size
def test_left_padded_batch_equals_one_prompt_at_a_time(block_size, use_cache):
    model = spread_model(block_size, seed=1)
    prompts = [[5], [7, 8, 9, 10, 11, 12, 13, 14, 15], [1, 2, 3], [20, 21, 22, 23, 24, 25]]
    batched = generate_batch(model, prompts, 25, temperature=0, use_cache=use_cache)
    alone = [generate(model, p, 25, temperature=0)[0] for p in prompts]
    assert batched == alone
    assert len({tuple(r) for r in batched}) == 4


def test_batch_rows_stop_on_their_own():
    model = spread_model(64, seed=2)
    prompts = [[4, 5], [9], [30, 31, 32]]
    free = generate_batch(model, prompts, 20, temperature=0)
    stop = free[1][3]  # row 1's fourth token ends row 1 (and any row that meets it)
    stopped = generate_batch(model, prompts, 20, temperature=0, stop_ids=(stop,))
    for row, full in zip(stopped, free):
        cut = full.index(stop) + 1 if stop in full else len(full)
        assert row == full[:cut]
    assert len(stopped[1]) <= 4


def test_generation_arguments_are_checked():
    model = spread_model(16)
    with pytest.raises(GlassError, match="empty"):
        generate_batch(model, [[1], []], 3)
    with pytest.raises(GlassError, match="empty"):
        generate_batch(model, [], 3)
    with pytest.raises(GlassError, match="max_context"):
        generate(model, [1], 3, max_context=0)
    with pytest.raises(GlassError, match="num_samples"):
        generate(model, [1], 3, num_samples=0)
    with pytest.raises(GlassError, match="top_p"):
        SamplingSettings(top_p=1.5).check()
    assert generate(model, [1], 0) == [[]]
    model.train()
    generate(model, [1], 2, temperature=0)
    assert model.training  # the caller's mode is restored


def test_sampling_defaults_live_in_one_place():
    assert (DEFAULTS.temperature, DEFAULTS.max_new_tokens, DEFAULTS.top_k, DEFAULTS.top_p, DEFAULTS.num_samples) == (
        0.8,
        300,
        None,
        None,
        1,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.temperature = 1.0  # frozen
    args = build_parser("sample").parse_args(["sample", "runs/x"])
    text_api = inspect.signature(sample_text).parameters
    for name in ("max_new_tokens", "temperature", "top_k", "top_p", "num_samples"):
        assert getattr(args, name) == getattr(DEFAULTS, name) == text_api[name].default, name
    assert inspect.signature(glassgpt.generate) == inspect.signature(sample_text)
    assert inspect.signature(generate).parameters["temperature"].default == DEFAULTS.temperature


@pytest.fixture(scope="module")
def short_window_run(tmp_path_factory):
    """A tiny run trained on windows of 6 in a context of 16."""
    out = tmp_path_factory.mktemp("ctx") / "run"
    glassgpt.train(out, config=tiny_config(seq_len=6, max_steps=30), text=TINY_TEXT, report=False)
    return out


def test_load_run_gives_the_trained_context_and_load_stays_a_pair(short_window_run):
    run = load_run(short_window_run)
    assert isinstance(run, LoadedRun)
    assert run.trained_context == 6 and run.config.model.block_size == 16
    assert run.config.train.seq_len == 6 and not run.model.training
    model, tok = glassgpt.load(short_window_run)
    assert torch.equal(model.transformer.wte.weight, run.model.transformer.wte.weight)
    assert tok.vocab_size == run.tokenizer.vocab_size
    assert not hasattr(model, "trained_context")  # nothing attached to the model


def test_the_cli_samples_within_the_trained_context(short_window_run, capsys):
    run = load_run(short_window_run)
    prompt = "the quick brown "
    cropped = sample_text(run.model, run.tokenizer, prompt, 40, temperature=1.0, seed=0, max_context=6)
    whole = sample_text(run.model, run.tokenizer, prompt, 40, temperature=1.0, seed=0)
    assert cropped != whole  # the crop matters for this model, so the check below means something
    assert (
        main(
            [
                "sample",
                str(short_window_run),
                "--prompt",
                prompt,
                "--max-new-tokens",
                "40",
                "--temperature",
                "1",
                "--seed",
                "0",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == cropped
