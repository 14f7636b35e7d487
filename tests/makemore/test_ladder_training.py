"""The ladder inside the training machinery: counting is the bigram's training, the glass engine
trains the MLP on hand-written gradients to the torch run's losses, the layer probe measures
what the lectures plot, the learning-rate finder sweeps the ladder, and the presets are the table's."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from support.wordlists import make_words, train_rung, write_words

from glassgpt.config import resolve
from glassgpt.errors import ConfigError
from glassgpt.fileio import load_tensors
from glassgpt.makemore.dead_rows import DEAD, pack_rows, unpack_rows
from glassgpt.makemore.models import build_model, make_config
from glassgpt.makemore.presets import FAST, PRESETS
from glassgpt.makemore.probe import SATURATED, LayerProbe
from glassgpt.makemore.words import prepare_words, read_words
from glassgpt.models.factory import build
from glassgpt.training.lr_finder import find_lr
from glassgpt.training.schedule import learning_rate


def _metrics(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_the_counting_bigram_counts_the_training_split_once(tmp_path):
    data = write_words(tmp_path, make_words(120))
    assert train_rung("bigram", data, tmp_path / "run", "--set", "train.batch_size=100") == 0
    words = prepare_words(read_words(data))
    X, Y = words.examples("train", 1)
    V = words.vocab_size
    hand = np.zeros((V, V), dtype=np.int64)
    np.add.at(hand, (X[:, 0], Y), 1)  # every (previous, next) pair of the training split, once
    counts = load_tensors(tmp_path / "run" / "model.safetensors")["counts"].numpy()
    assert (counts == hand).all() and counts.sum() == len(Y)
    # its one step's loss is the training NLL of the add-1 table it built
    P = (hand + 1.0) / (hand + 1.0).sum(1, keepdims=True)
    nll = -np.log(P[X[:, 0], Y]).mean()
    (step,) = _metrics(tmp_path / "run")
    assert step["step"] == 1 and step["train_loss"] == pytest.approx(nll, abs=1e-6) and step["grad_norm"] == 0
    final = json.loads((tmp_path / "run" / "summary.json").read_text())["final"]["splits"]
    assert final["train"]["loss"] == pytest.approx(nll, abs=1e-6)


def test_the_glass_engine_trains_the_mlp_to_the_torch_runs_losses(tmp_path):
    data = write_words(tmp_path, make_words(200))
    extra = ["--max-steps", "120", "--set", "train.log_every=1", "--set", "train.momentum=0.5"]
    assert train_rung("mlp", data, tmp_path / "torch", *extra) == 0
    assert train_rung("mlp", data, tmp_path / "glass", "--engine", "glass", *extra) == 0
    a, b = _metrics(tmp_path / "torch"), _metrics(tmp_path / "glass")
    la = np.array([r["train_loss"] for r in a if "train_loss" in r])
    lb = np.array([r["train_loss"] for r in b if "train_loss" in r])
    assert len(la) == len(lb) == 120
    assert la[-1] < la[0] - 0.5  # it learned ...
    assert np.abs(la - lb).max() < 1e-5  # ... the same way: float32 roundoff only
    ga, gb = (np.array([r["grad_norm"] for r in m if "grad_norm" in r]) for m in (a, b))
    assert np.abs(ga - gb).max() < 1e-4 * ga.max()
    fa = json.loads((tmp_path / "torch" / "summary.json").read_text())["final"]["splits"]
    fb = json.loads((tmp_path / "glass" / "summary.json").read_text())["final"]["splits"]
    for split in fa:
        assert fb[split]["loss"] == pytest.approx(fa[split]["loss"], abs=1e-5)
    wa, wb = (load_tensors(tmp_path / r / "model.safetensors") for r in ("torch", "glass"))
    assert set(wa) == set(wb) and max(float((wa[k] - wb[k]).abs().max()) for k in wa) < 1e-4


def test_a_step_of_the_ladder_counts_its_examples_as_tokens(tmp_path):
    data = write_words(tmp_path, make_words(100))
    assert train_rung("mlp", data, tmp_path / "run", "--max-steps", "10", "--set", "train.log_every=5") == 0
    assert [r["tokens"] for r in _metrics(tmp_path / "run") if "train_loss" in r] == [5 * 32, 10 * 32]


def _probe_step(model, x, y, lr):
    probe = LayerProbe(model)
    seen = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, k=k: seen.__setitem__(k, o.detach().clone()))
        for k, m in enumerate(probe.tanh)
    ]
    with probe.watch():
        _, loss = model(x, y)
    for h in hooks:
        h.remove()
    loss.backward()
    probe.grads_ready()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    probe.stepped()
    return probe.record(1, 0.0), seen, grads, before


def test_the_layer_probe_measures_what_the_lectures_plot():
    torch.manual_seed(0)
    model = build_model("wavenet", make_config("wavenet", n_embd=6, n_hidden=20), seed=1).train()
    x, y = torch.randint(0, 27, (40, 8)), torch.randint(0, 27, (40,))
    record, seen, grads, before = _probe_step(model, x, y, lr=0.1)
    assert [a["layer"] for a in record["activations"]] == ["tanh 1", "tanh 2", "tanh 3"]
    for k, act in enumerate(record["activations"]):
        h = seen[k]
        assert act["saturated"] == pytest.approx(float((h.abs() > SATURATED).float().mean()), abs=1e-6)
        image = record["dead"][k]
        flat = h.reshape(-1, h.shape[-1])[:32]
        assert image["shape"] == list(flat.shape)
        assert (unpack_rows(image["rows"], flat.shape[1]) == (flat.abs() > DEAD).numpy()).all()
        hist = record["histograms"][f"tanh {k + 1}"]["activation"]
        assert sum(hist["counts"]) == h.numel() and hist["edges"][0] == pytest.approx(float(h.min()))
    for w in record["weight_gradients"]:
        g, p = grads[w["name"]], before[w["name"]]
        assert w["grad_data"] == pytest.approx(float(g.std(correction=0) / p.std(correction=0)), rel=1e-5)
        # plain SGD: the update-to-data ratio is log10(lr * std(grad) / std(W))
        assert record["update_ratio"][w["name"]] == pytest.approx(
            math.log10(0.1 * float(g.std(correction=0)) / float(p.std(correction=0))), abs=1e-4
        )
    assert set(record["update_ratio"]) == {n for n, p in model.named_parameters() if p.dim() >= 2}


def test_the_dead_neuron_image_packs_and_unpacks():
    bits = np.random.default_rng(0).random((7, 13)) > 0.5
    assert (unpack_rows(pack_rows(bits), 13) == bits).all()


def test_a_naive_mlp_saturates_and_the_fixes_do_not(tmp_path):
    """The lecture's lesson, as recorded by --diagnostics-every: tanh saturation and initial loss."""
    data = write_words(tmp_path, make_words(200))
    runs = {}
    for name, extra in (
        (
            "naive",
            ["--set", "model.batchnorm=false", "--set", "model.small_output=false", "--set", "model.hidden_init=randn"],
        ),
        ("fixed", ["--set", "model.batchnorm=false"]),
    ):
        assert (
            train_rung(
                "mlp",
                data,
                tmp_path / name,
                "--max-steps",
                "4",
                "--diagnostics-every",
                "1",
                "--set",
                "train.log_every=1",
                "--set",
                "model.n_hidden=64",
                *extra,
            )
            == 0
        )
        runs[name] = tmp_path / name
    first = {n: json.loads((r / "diagnostics.jsonl").read_text().splitlines()[0]) for n, r in runs.items()}
    # N(0, 1) weights over 30 inputs: most units at ±1; Kaiming's 5/3 gain: P(|N(0, 5/3)| > atanh 0.97) ≈ 21%
    assert first["naive"]["activations"][0]["saturated"] > 0.5 > 0.3 > first["fixed"]["activations"][0]["saturated"]
    loss0 = {n: _metrics(r)[0]["train_loss"] for n, r in runs.items()}
    assert loss0["naive"] > 3 * math.log(14) and abs(loss0["fixed"] - math.log(14)) < 0.3


def test_the_learning_rate_finder_sweeps_a_ladder_run(tmp_path):
    data = write_words(tmp_path, make_words(100))
    assert train_rung("mlp", data, tmp_path / "run", "--max-steps", "5") == 0
    result = find_lr(tmp_path / "run", start=1e-4, end=1.0, steps=30)
    lrs = np.array(result["lrs"])
    assert lrs[0] == pytest.approx(1e-4) and np.allclose(np.diff(np.log10(lrs)), 4 / 29)
    assert (tmp_path / "run" / "lr_finder.json").is_file() and math.isfinite(result["losses"][0])
    assert train_rung("bigram", data, tmp_path / "bigram") == 0
    with pytest.raises(ConfigError, match="no learning rate"):
        find_lr(tmp_path / "bigram")


@pytest.mark.parametrize(
    "name, params",
    [
        ("makemore-bigram", 729),
        ("makemore-neural-bigram", 729),
        ("makemore-mlp", 11_897),
        ("makemore-mlp-fixes", 11_897),
        ("makemore-mlp-bn", 12_097),
        ("makemore-wavenet", 22_397),
        ("makemore-wavenet-scaled", 76_579),
        ("makemore-gpt", 203_840),
    ],
)
def test_presets_are_the_tables_rows(name, params):
    for preset in (name, name + "-fast"):
        cfg = resolve(preset)
        cfg = cfg.updated({"model.vocab_size": 27})
        assert cfg.data.kind == "words" and cfg.data.corpus == "names" and cfg.data.split_seed == 42
        with torch.random.fork_rng():
            assert build(cfg.model).num_params() == params
    full, fast = resolve(name).train, resolve(name + "-fast").train
    assert fast.max_steps <= 4000 and fast.max_steps <= full.max_steps
    if name in ("makemore-mlp", "makemore-mlp-fixes", "makemore-mlp-bn"):  # 0.1, then 0.01 after 100k of 200k
        assert (full.optimizer, full.batch_size, full.max_steps) == ("sgd", 32, 200_000)
        assert (
            learning_rate(99_999, full.lr, 0, full.max_steps, full.min_lr_ratio, full.schedule, full.decay_fraction)
            == 0.1
        )
        assert learning_rate(
            100_000, full.lr, 0, full.max_steps, full.min_lr_ratio, full.schedule, full.decay_fraction
        ) == pytest.approx(0.01)
    assert set(FAST) <= {p.removesuffix("-fast") for p in PRESETS}


def test_the_tuned_preset_is_a_gpt_on_words_that_fits_ten_cpu_minutes():
    cfg = resolve("makemore-tuned")
    m, t = cfg.model, cfg.train
    assert cfg.data.kind == "words" and cfg.data.split_seed == 42 and m.arch == "gpt"
    assert t.threads == 1 and 0 < t.time_budget < 600 and t.schedule_clock == "time"  # one core, under 10 minutes
    assert (t.optimizer, m.pos, m.norm, m.qk_norm) == ("muon", "rope", "rmsnorm", True) and m.dropout > 0
    assert t.doc_mask and m.attention_dropout == m.dropout == 0.1  # packed words; light dropout: the ensemble averages
    assert m.ensemble == 2 and t.batch_size == 2 * 256 and t.dtype == "bfloat16"  # two GPTs, 256 names each a step
    assert "makemore-tuned-fast" not in PRESETS  # the budget is the recipe: no fast variant
