"""Settings that cannot work are refused before anything is allocated: non-finite numbers,
out-of-range whole numbers and seeds, thread counts, and models, batches or samples that
cannot fit in memory (estimated from the configuration)."""

from __future__ import annotations

import dataclasses
import resource

import pytest
import torch

from glassgpt.config import ModelConfig, RunConfig, resolve
from glassgpt.config.schema import ALIASES, SEED_MAX, Settings
from glassgpt.device import host_memory, memory_of
from glassgpt.errors import ConfigError, count
from glassgpt.models import GPT
from glassgpt.models.footprint import (
    activation_floats,
    inference_bytes,
    parameter_count,
    require_fits,
    size_text,
    training_bytes,
)
from glassgpt.threads import THREADS_PER_CPU, check_thread_count, usable_cpus


def refused(overrides: dict, match: str) -> str:
    with pytest.raises(ConfigError) as e:
        resolve("baby", overrides=overrides)
    msg = str(e.value)
    assert match in msg and "\n" not in msg and msg.endswith("."), msg
    return msg


def test_every_float_setting_must_be_finite():
    floats = [
        (s, f.name)
        for s in ("model", "data", "train")
        for f in dataclasses.fields(getattr(RunConfig(), s))
        if isinstance(getattr(getattr(RunConfig(), s), f.name), float)
    ]
    assert ("train", "time_budget") in floats and len(floats) >= 10
    for section, name in floats:
        for bad in ("nan", "inf", "-inf"):
            refused({f"{section}.{name}": bad}, f"{section}.{name} must be")


def test_time_budget_says_what_zero_means():
    assert refused({"train.time_budget": "nan"}, "train.time_budget").endswith("(0 means no limit), got nan.")


def test_whole_numbers_are_whole_and_bounded():
    refused({"train.warmup_steps": "2.5"}, "train.warmup_steps must be a whole number, not '2.5'")
    refused({"train.warmup_steps": "1e30"}, "train.warmup_steps is too large")
    refused({"train.log_every": "inf"}, "train.log_every must be a whole number, not 'inf'")
    refused({"train.log_every": "nan"}, "must be a whole number")
    assert resolve("baby", overrides={"train.max_steps": "2e3"}).train.max_steps == 2000  # 2e3 is whole


def test_seeds_are_32_bit():
    refused({"train.seed": -1}, f"train.seed must be a whole number from 0 to {SEED_MAX}, got -1")
    refused({"train.seed": "1e30"}, "train.seed must be a whole number from 0")
    assert resolve("baby", overrides={"train.seed": SEED_MAX}).train.seed == SEED_MAX


def test_messages_name_the_value_and_use_words():
    refused({"train.beta2": 1.0}, "train.beta2 must be in [0, 1), got 1.0")
    refused({"train.eps": 0.0}, "train.eps must be positive, got 0.0")
    refused({"train.batch_size": "lots"}, "train.batch_size must be a whole number, not 'lots'")
    refused({"train.lr": "fast"}, "train.lr must be a number, not 'fast'")
    assert count(1, "token") == "1 token" and count(2, "token") == "2 tokens" and count(1024, "token") == "1,024 tokens"


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("train.learning_rate", "train.lr"),
        ("learning_rate", "train.lr"),
        ("train.max_iters", "train.max_steps"),
        ("model.n_embed", "model.n_embd"),
        ("model.context_length", "model.block_size"),
        ("n_heads", "model.n_head"),
    ],
)
def test_did_you_mean_knows_the_names_of_other_trainers(typed, meant):
    with pytest.raises(ConfigError, match=f"did you mean '{meant}'"):
        Settings.defaults().set(typed, 1)


def test_every_alias_points_at_a_real_key():
    keys = {f.name for s in ("model", "data", "train") for f in dataclasses.fields(getattr(RunConfig(), s))}
    assert set(ALIASES.values()) <= keys


def test_thread_counts_are_refused_beyond_a_few_per_core():
    limit = THREADS_PER_CPU * usable_cpus()
    for ok in (0, None, 1, limit):
        check_thread_count(ok)
    for bad in (limit + 1, 5000, 100_000, -1):
        with pytest.raises(ConfigError, match=f"{bad} is not a usable thread count"):
            check_thread_count(bad)


# ---- memory estimates ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "preset, vocab", [("baby", 65), ("small", 65), ("gpt2", 50257), ("nursery", 35), ("poem", 256)]
)
def test_parameter_count_matches_the_model_of_every_preset(preset, vocab):
    cfg = dataclasses.replace(resolve(preset).model, vocab_size=vocab)
    with torch.device("meta"):
        assert parameter_count(cfg) == GPT(cfg).num_params()


@pytest.mark.parametrize(
    "options",
    [
        dict(bias=False),
        dict(qkv_bias=False),
        dict(tie_weights=False, head_bias=True),
        dict(tie_weights=False),
        dict(pad_vocab_to=64, d_ff=48),
    ],
)
def test_parameter_count_matches_every_shape_option(options):
    cfg = ModelConfig(vocab_size=70, block_size=8, n_layer=3, n_head=2, n_embd=16, **options)
    with torch.device("meta"):
        assert parameter_count(cfg) == GPT(cfg).num_params()


def test_estimates_grow_with_what_they_count():
    cfg = resolve("baby")
    cfg = cfg.updated({"model.vocab_size": 65})
    base = training_bytes(cfg)
    assert base["total"] == base["state"] + base["activations"] + base["batches"]
    assert base["state"] == 16 * parameter_count(cfg.model)  # weights, gradients, two AdamW moments
    bigger = resolve("baby", overrides={"train.batch_size": 64})
    bigger = bigger.updated({"model.vocab_size": 65})
    assert training_bytes(bigger)["activations"] == 2 * base["activations"]
    glass = resolve("baby", overrides={"train.engine": "glass"})
    glass = glass.updated({"model.vocab_size": 65})
    assert training_bytes(glass)["activations"] > base["activations"]  # it keeps the attention maps
    assert activation_floats(cfg.model, 1, 8, attention_maps=True) > activation_floats(cfg.model, 1, 8)
    assert inference_bytes(cfg.model, 2, 10, new_tokens=100) > inference_bytes(cfg.model, 1, 10, new_tokens=100)


def test_require_fits_names_both_numbers():
    available, has = memory_of(torch.device("cpu"))
    assert available and available > 0 and has
    require_fits(available // 2, torch.device("cpu"), "a small run", "use less")
    with pytest.raises(ConfigError) as e:
        require_fits(10 * available, torch.device("cpu"), "this run", "use a smaller model")
    msg = str(e.value)
    assert msg.startswith(
        f"this run needs about {size_text(10 * available)} of memory but {has} "
        f"{size_text(available)}; use a smaller model."
    )
    assert [size_text(n) for n in (512, 12_345_678, 1.9e12)] == ["512 B", "12.3 MB", "1.9 TB"]


def test_host_memory_respects_this_process_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = 6 << 30
    if hard != resource.RLIM_INFINITY and hard < limit:
        pytest.skip("the hard limit is already lower")
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        assert host_memory() == (limit, "this process is limited (ulimit) to") or host_memory()[0] < limit
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
