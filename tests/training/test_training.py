import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from support.tinyrun import tiny_config

from glassgpt.data.loader import BatchLoader
from glassgpt.rundir import read_metrics, without_timing
from glassgpt.training.engines import TorchEngine
from glassgpt.training.launch import train


def losses(run_dir):
    return [r["train_loss"] for r in read_metrics(run_dir) if "train_loss" in r]


def test_short_run_lowers_the_loss_and_writes_the_run_dir(tmp_path, tiny_cfg, tiny_text):
    result = train(tmp_path / "run", config=tiny_cfg, text=tiny_text)
    run = tmp_path / "run"
    for name in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "metrics.jsonl",
        "summary.json",
        "state/model.safetensors",
        "state/optimizer.safetensors",
        "state/trainer.json",
        "data/meta.json",
    ]:
        assert (run / name).is_file(), name
    ls = losses(run)
    vocab = json.loads((run / "config.json").read_text())["model"]["vocab_size"]
    assert tiny_cfg.model.vocab_size == 0  # the caller's configuration is not changed
    assert abs(ls[0] - math.log(vocab)) < 0.5  # starts near uniform guessing
    assert ls[-1] < ls[0] - 0.8  # and learns
    rec = read_metrics(run)[0]
    assert set(rec) >= {"step", "tokens", "train_loss", "lr", "grad_norm", "tokens_per_sec", "elapsed_s"}
    assert any("val_loss" in r for r in read_metrics(run))
    assert result.steps == 40 and result.final["split"] == "val"
    assert result.final["perplexity"] == pytest.approx(math.exp(result.final["val_loss"]))
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["vocab_size"] == vocab and cfg["train"]["max_steps"] == 40


def test_same_seed_same_metrics(tmp_path, tiny_text):
    train(tmp_path / "a", config=tiny_config(max_steps=15), text=tiny_text)
    train(tmp_path / "b", config=tiny_config(max_steps=15), text=tiny_text)
    assert without_timing(read_metrics(tmp_path / "a")) == without_timing(read_metrics(tmp_path / "b"))
    train(tmp_path / "c", config=tiny_config(max_steps=15, seed=7), text=tiny_text)
    assert losses(tmp_path / "a") != losses(tmp_path / "c")


def test_exact_resume_is_byte_identical(tmp_path, tiny_text):
    """200 steps in one go == 100 steps + resume + 100 more (dropout on, so RNG state matters)."""

    def cfg(steps):
        c = tiny_config(max_steps=steps, decay_steps=200, save_every=50, eval_every=50, log_every=10, sample_every=40)
        c = c.updated({"model.dropout": 0.1})
        return c

    train(tmp_path / "one", config=cfg(200), text=tiny_text)
    train(tmp_path / "two", config=cfg(100), text=tiny_text)
    result = train(tmp_path / "two", overrides={"train.max_steps": 200}, resume=True)
    assert result.steps == 200
    a = load_file(str(tmp_path / "one" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "one" / "model.safetensors").read_bytes() == (
        tmp_path / "two" / "model.safetensors"
    ).read_bytes()
    assert without_timing(read_metrics(tmp_path / "one")) == without_timing(read_metrics(tmp_path / "two"))
    samples = read_metrics(tmp_path / "one" / "samples.jsonl")
    assert [s["step"] for s in samples] == [40, 80, 120, 160, 200]  # sample_every, then the final one
    assert [s["step"] for s in read_metrics(tmp_path / "two" / "samples.jsonl")] == [40, 80, 100, 120, 160, 200]


def test_resume_max_steps_counts_total_steps(tmp_path, tiny_text):
    train(tmp_path / "r", config=tiny_config(max_steps=10), text=tiny_text)
    result = train(tmp_path / "r", overrides=["train.max_steps=25"], resume=True)
    assert result.steps == 25
    assert [r["step"] for r in read_metrics(tmp_path / "r")][-1] == 25


def test_gradient_accumulation_equals_bigger_batch():
    """Batch 8 == 4 x accumulation 2: the same data, the same mean-loss gradient, the same update."""
    tokens = np.random.default_rng(0).integers(0, 30, size=5000).astype(np.uint16)
    results = []
    for batch, accum in ((8, 1), (4, 2)):
        # a large Adam eps keeps the update proportional to the gradient: with the default 1e-8,
        # gradients that are ~0 up to float noise would turn into full-size ±lr steps
        cfg = tiny_config(batch_size=batch, grad_accum=accum, grad_clip=0.5, eps=1e-3)
        cfg = cfg.updated({"model.vocab_size": 30})
        engine = TorchEngine(cfg)
        loader = BatchLoader(tokens, 16, seed=3)
        record = []
        for _ in range(3):
            x, y = loader.next(batch * accum)
            micro = [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]
            r = engine.train_step(micro, lr=1e-2)
            record.append((r.loss, r.grad_norm))
        results.append((record, engine.state_dict()["model"]))
    (rec_a, w_a), (rec_b, w_b) = results
    for (loss_a, norm_a), (loss_b, norm_b) in zip(rec_a, rec_b):
        assert loss_a == pytest.approx(loss_b, abs=1e-6)  # float32 sums in a different order
        assert norm_a == pytest.approx(norm_b, rel=1e-5)  # the norm clipping sees is the true one
    for k in w_a:
        assert torch.allclose(w_a[k], w_b[k], atol=1e-6), k  # float32 noise, well below the ~1e-3 updates


def test_time_budget_stops_cleanly_and_saves(tmp_path, tiny_text):
    result = train(tmp_path / "t", config=tiny_config(max_steps=100000, time_budget=1.0), text=tiny_text)
    assert result.stopped_by == "time_budget"
    assert 0 < result.steps < 100000
    state = json.loads((tmp_path / "t" / "state" / "trainer.json").read_text())
    assert state["step"] == result.steps
    assert "val_loss" in result.final


def test_loader_resumes_exactly():
    tokens = np.arange(1000, dtype=np.uint16)
    a = BatchLoader(tokens, 8, seed=1)
    a.next(4)
    saved = json.loads(json.dumps(a.state()))  # it is plain JSON
    expected = a.next(4)
    b = BatchLoader(tokens, 8, seed=99)
    b.set_state(saved)
    got = b.next(4)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert np.array_equal(got[1][:, :-1], got[0][:, 1:])  # targets are inputs shifted by one


def test_training_with_a_bpe_tokenizer_trained_on_the_train_split(tmp_path, tiny_text):
    from glassgpt.tokenizers import load

    cfg = tiny_config(max_steps=5)
    cfg = cfg.updated({"data.tokenizer": "bpe", "data.vocab_size": 300})
    result = train(tmp_path / "b", config=cfg, text=tiny_text)
    tok = load(tmp_path / "b" / "tokenizer.json")
    assert tok.type == "bpe" and tok.vocab_size == 300
    assert json.loads((tmp_path / "b" / "config.json").read_text())["model"]["vocab_size"] == 300
    # bits per byte stays comparable: it counts the UTF-8 bytes of the predicted tokens
    meta = json.loads((tmp_path / "b" / "data" / "meta.json").read_text())
    assert meta["train_bytes"] + meta["val_bytes"] == len(tiny_text.encode())
    assert result.final["bits_per_byte"] > 0
    tok.save(tmp_path / "t.json")
    cfg2 = tiny_config(max_steps=2)
    cfg2 = cfg2.updated({"data.tokenizer": f"bpe:{tmp_path / 't.json'}"})
    train(tmp_path / "c", config=cfg2, text=tiny_text)
    assert load(tmp_path / "c" / "tokenizer.json") == tok


def test_poem_preset_samples_the_three_prompts_of_seeds_a9(tmp_path):
    result = train(tmp_path / "p", preset="poem", overrides={"train.max_steps": 3, "train.sample_tokens": 10})
    assert [s[: len(p)] for s, p in zip(result.samples, ["All that ", "Young in ", "Gilded "])] == [
        "All that ",
        "Young in ",
        "Gilded ",
    ]
    records = read_metrics(tmp_path / "p" / "samples.jsonl")
    assert [r["prompt"] for r in records] == ["All that ", "Young in ", "Gilded "]
    assert all(r["step"] == 3 for r in records)


def test_a_sample_prompt_the_vocabulary_cannot_encode_is_refused_before_training(tmp_path, tiny_text):
    from glassgpt.errors import TokenizerError

    cfg = tiny_config(sample_prompts=["Zebra \u00e9"])
    with pytest.raises(TokenizerError, match="not in this model's vocabulary"):
        train(tmp_path / "z", config=cfg, text=tiny_text)
    assert not (tmp_path / "z").exists()
