"""The header's warning about a model far from what the device can train in the run's budget."""

from __future__ import annotations

import torch

from glassgpt.config import resolve
from glassgpt.training import header
from glassgpt.training.header import plan_warnings

CPU = torch.device("cpu")


def baby(vocab: int, **settings):
    return resolve("baby").updated({"model.vocab_size": vocab, **settings})


def test_a_prepared_corpus_with_a_100k_vocabulary_under_baby_is_told_to_change_the_tokenizer():
    """The first try at `train --data PREPARED` with cl100k: 13.6M parameters, 260 tokens/s on 2 cores."""
    [warning] = plan_warnings(baby(100_277), device=CPU, threads=2)
    assert warning == (
        "warning: the 3:30 time budget holds at most about 249 of the 900 steps on 2 CPU threads (a step "
        "computes 168 GFLOP: 13,636,992 parameters × 2,048 tokens, at least 0.84 s even at 200 GFLOP/s); the "
        "100,277-id vocabulary holds 94% of the parameters: use a smaller tokenizer (char, byte or a BPE of a "
        "few thousand ids; for a prepared corpus, prepare it again with one)."
    )


def test_a_deep_wide_model_is_told_to_shrink_or_take_longer():
    cfg = baby(75, **{"model.n_layer": 24, "model.n_head": 16, "model.n_embd": 1024})
    [warning] = plan_warnings(cfg, device=CPU, threads=2)
    assert warning.startswith("warning: the 3:30 time budget holds at most about 11 of the 900 steps on 2 CPU threads")
    assert warning.endswith(
        "choose smaller model settings (--set model.n_layer=... model.n_embd=...), fewer --max-steps or a longer "
        "--time-budget."
    )
    other = resolve("small").updated({"model.vocab_size": 75, "train.time_budget": 60.0})
    [warning] = plan_warnings(other, device=CPU, threads=2)
    assert "choose a smaller preset (e.g. --preset baby), smaller model settings" in warning


def test_the_baby_preset_and_runs_without_a_budget_get_no_warning():
    for threads in (1, 2, 8):
        assert plan_warnings(baby(75), device=CPU, threads=threads) == []
    assert plan_warnings(baby(100_277, **{"train.time_budget": 0.0}), device=CPU, threads=2) == []
    speedrun = resolve("cpu-speedrun").updated({"model.vocab_size": 75})  # a million steps on the time clock
    assert plan_warnings(speedrun, device=CPU, threads=2) == []


def test_more_than_half_the_memory_is_a_warning(monkeypatch):
    monkeypatch.setattr(header, "memory_of", lambda device: (4_000_000_000, "this machine has"))
    cfg = baby(100_277, **{"train.time_budget": 0.0})
    [warning] = plan_warnings(cfg, device=CPU, threads=2)
    assert warning.startswith("warning: training this model needs about 2.77 GB of memory and this machine has 4 GB;")
    assert "the 100,277-id vocabulary holds 94% of the parameters" in warning
    assert plan_warnings(baby(75), device=CPU, threads=2) == []


def test_the_run_s_own_device_and_threads_by_default():
    assert plan_warnings(baby(75)) == []
    on_cpu = baby(100_277, **{"train.device": "cpu"})
    assert any("time budget holds at most" in w for w in plan_warnings(on_cpu, threads=1))
