"""Training diagnostics: analyze_gradients, training_step, the engine's capture and diagnostics.jsonl.

Every figure is checked against an independent computation written here (float64 NumPy
from autograd gradients, saved weights, recorded attention), with tolerances for float32.
"""

import copy
import json
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.config import RunConfig
from glassgpt.models import GPT
from glassgpt.training.diagnostics import analyze_gradients, training_step
from glassgpt.training.engines import TorchEngine
from glassgpt.training.launch import train


@pytest.fixture(autouse=True)
def _no_report(monkeypatch):
    monkeypatch.setenv("GLASSGPT_REPORT", "0")  # runs here need no figures


#: parameter-name prefixes of each group, written out independently of the module
GROUP_OF = [
    ("lm_head.", "head"),
    ("transformer.wte.", "embeddings"),
    ("transformer.wpe.", "embeddings"),
    ("transformer.ln_f.", "norms"),
]


def group_of(name):
    for prefix, g in GROUP_OF:
        if name.startswith(prefix):
            return g
    part = name.split(".")[3]  # transformer.h.<i>.<part>.…
    return {"attn": "attention", "mlp": "mlp", "ln_1": "norms", "ln_2": "norms"}[part]


def model_cfg(activation="gelu", tied=True, dropout=0.0, vocab=11):
    model = dict(vocab_size=vocab, block_size=8, n_layer=2, n_head=2, n_embd=16, activation=activation)
    model.update(tie_weights=tied, head_bias=not tied, dropout=dropout)
    return RunConfig().updated({f"model.{k}": v for k, v in model.items()})


def batch(vocab=11, B=3, T=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (B, T), generator=g)
    y = torch.randint(0, vocab, (B, T), generator=g)
    return x, y


def abs_stats(arrays):
    a = np.abs(np.concatenate([np.asarray(t, dtype=np.float64).ravel() for t in arrays]))
    return {"mean": a.mean(), "max": a.max(), "std": a.std()}  # population std (ddof=0)


def reference_grads(model, x, y):
    """{name: grad as float64 numpy} of the mean cross-entropy, by plain autograd on a copy."""
    m = copy.deepcopy(model)
    logits, _ = m(x)
    F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)).backward()
    return {n: p.grad.double().numpy() for n, p in m.named_parameters()}


# ---- analyze_gradients and training_step --------------------------------------------------------
@pytest.mark.parametrize("tied", [True, False])
def test_analyze_gradients_matches_an_independent_computation(tied):
    torch.manual_seed(0)
    model = GPT(model_cfg(tied=tied).model)
    x, y = batch()
    grads = reference_grads(model, x, y)
    out = analyze_gradients(model, x, y)
    expected_groups = ["embeddings", "attention", "mlp", "norms"] + ([] if tied else ["head"])
    assert list(out) == expected_groups  # a tied head is counted under embeddings
    for g in expected_groups:
        ref = abs_stats([v for n, v in grads.items() if group_of(n) == g])
        for k in ("mean", "max", "std"):
            assert out[g][k] == pytest.approx(ref[k], rel=1e-5), (g, k)  # float32 sums vs float64
    assert all(p.grad is None for p in model.parameters())  # left cleared
    if tied:  # the tied head's gradient really is inside the embedding statistics
        assert "lm_head.weight" not in grads


def test_analyze_gradients_discards_stale_gradients():
    torch.manual_seed(0)
    model = GPT(model_cfg().model)
    x, y = batch()
    first = analyze_gradients(model, x, y)
    for p in model.parameters():
        p.grad = torch.full_like(p, 5.0)
    assert analyze_gradients(model, x, y) == first


def test_training_step_reports_loss_before_and_after():
    torch.manual_seed(0)
    model = GPT(model_cfg().model)
    x, y = batch()
    with torch.no_grad():
        logits, _ = model(x)
        before = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)).item()
    out = training_step(model, x, y, torch.optim.SGD(model.parameters(), lr=0.5))
    assert set(out) == {"loss_before", "loss_after"}
    assert out["loss_before"] == pytest.approx(before, rel=1e-6)
    assert out["loss_after"] < out["loss_before"]  # one small step downhill on the same batch
    with torch.no_grad():
        logits, _ = model(x)
        assert out["loss_after"] == pytest.approx(
            F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)).item(), rel=1e-6
        )


# ---- the engine's capture ---------------------------------------------------------------------
def engine_for(activation="gelu", tied=True, dropout=0.0, grad_clip=1.0):
    cfg = model_cfg(activation, tied, dropout)
    cfg = cfg.updated({"train.device": "cpu", "train.seed": 3, "train.grad_clip": grad_clip, "train.lr": 1e-2})
    return TorchEngine(cfg)


def manual_forward(model, x):
    """Forward pass written out module by module, keeping MLP pre-activations, outputs and
    the residual stream after each block."""
    T = x.size(1)
    h = model.transformer.wte(x) + model.transformer.wpe(torch.arange(T))
    pre, acts, resid = [], [], []
    for block in model.transformer.h:
        h = h + block.attn(block.ln_1(h))
        a = block.mlp.c_fc(block.ln_2(h))
        out = block.mlp.act(a)
        out.retain_grad()
        pre.append(a)
        acts.append(out)
        h = h + block.mlp.c_proj(out)
        resid.append(h)
    logits = model.lm_head(model.transformer.ln_f(h))
    return logits, pre, acts, resid


@pytest.mark.parametrize("activation,tied", [("gelu", True), ("relu", False)])
def test_capture_matches_independent_computations(activation, tied):
    eng = engine_for(activation, tied)
    with torch.no_grad():  # wide pre-activations, so that some units sit in the flat region
        for blk in eng.model.transformer.h:
            blk.mlp.c_fc.weight.mul_(100.0)
    ref = copy.deepcopy(eng.model)  # the weights before the step
    x, y = batch()
    result = eng.train_step([(x.numpy(), y.numpy())], 1e-2, capture=True)
    rec = result.probe.record(1, result.grad_norm)
    assert list(rec)[0] == "step" and rec["step"] == 1

    # gradients (raw: before clipping) by autograd on the copy, through a hand-written forward
    logits, pre, acts, resid = manual_forward(ref, x)
    F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)).backward()
    grads = {n: p.grad.double().numpy() for n, p in ref.named_parameters()}
    assert rec["grad_norm"] == pytest.approx(math.sqrt(sum((g**2).sum() for g in grads.values())), rel=1e-5)
    for g, stats in rec["components"].items():
        want = abs_stats([v for n, v in grads.items() if group_of(n) == g])
        assert stats == pytest.approx(want, rel=1e-5), g
    for i, n in enumerate(rec["layer_grad_norm"]):
        assert n == pytest.approx(
            math.sqrt(sum((v**2).sum() for k, v in grads.items() if k.startswith(f"transformer.h.{i}."))), rel=1e-5
        )
    emb = [v for k, v in grads.items() if k.startswith(("transformer.wte", "transformer.wpe"))]
    assert rec["embedding_grad_norm"] == pytest.approx(math.sqrt(sum((v**2).sum() for v in emb)), rel=1e-5)
    if tied:
        assert rec["head_grad_norm"] is None and "head" not in rec["components"]
    else:
        head = [v for k, v in grads.items() if k.startswith("lm_head.")]
        assert rec["head_grad_norm"] == pytest.approx(math.sqrt(sum((v**2).sum() for v in head)), rel=1e-5)

    # activations, saturation, residual stream, histograms
    for i in range(2):
        a, out, r = pre[i].detach().double(), acts[i].detach().double(), resid[i].detach().double()
        sat = (a <= 0) if activation == "relu" else (a < -3.0)
        got = rec["activations"][i]
        assert got["mlp"]["mean"] == pytest.approx(out.mean().item(), rel=1e-4, abs=1e-7)
        assert got["mlp"]["std"] == pytest.approx(out.std(correction=0).item(), rel=1e-5)
        assert 0.01 < sat.double().mean().item() < 0.99  # the check is not vacuous
        assert got["mlp"]["saturated"] == pytest.approx(sat.double().mean().item(), abs=1e-6)  # float32 mean
        assert got["residual"]["std"] == pytest.approx(r.std(correction=0).item(), rel=1e-5)
        assert got["residual"]["mean"] == pytest.approx(r.mean().item(), rel=1e-4, abs=1e-7)
        for key, values in (("activation", out), ("gradient", acts[i].grad.double())):
            h = rec["histograms"][i][key]
            assert len(h["counts"]) == 30 and len(h["edges"]) == 31 and sum(h["counts"]) == values.numel()
            assert h["edges"][0] == pytest.approx(values.min().item(), rel=1e-6, abs=1e-12)
            assert h["edges"][-1] == pytest.approx(values.max().item(), rel=1e-6, abs=1e-12)
            counts, _ = np.histogram(values.numpy().ravel(), bins=np.array(h["edges"]))
            # values on a bin edge may land on either side of it in float32 vs float64
            assert np.abs(counts - np.array(h["counts"])).sum() <= 2

    # attention entropy, from the weights the model itself records
    with torch.no_grad():
        maps = ref.attention_maps(x)
    for i in range(len(ref.transformer.h)):
        w = maps[i].double().numpy()  # (B, H, T, T), zeros above the diagonal
        plogp = np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0)
        want = -plogp.sum(-1).mean(axis=(0, 2))
        assert rec["attention_entropy"][i] == pytest.approx(want.tolist(), abs=1e-5)
        assert all(0 <= e <= math.log(x.size(1)) + 1e-6 for e in rec["attention_entropy"][i])

    # update ratio: the real change of the weights in this step
    after = dict(eng.model.named_parameters())
    for g, ratio in rec["update_ratio"].items():
        names = [n for n in after if group_of(n) == g]
        w0 = np.concatenate([dict(ref.named_parameters())[n].detach().double().numpy().ravel() for n in names])
        w1 = np.concatenate([after[n].detach().double().numpy().ravel() for n in names])
        assert ratio == pytest.approx(math.log10((w1 - w0).std() / w0.std()), abs=1e-4), g
    json.dumps(rec, allow_nan=False)  # valid JSON, no NaN / Infinity


def test_capture_changes_nothing_and_draws_no_random_numbers():
    """Dropout on, two micro-batches: a captured step leaves the same weights and RNG state."""
    x, y = batch(B=4)
    micro = [(x[:2].numpy(), y[:2].numpy()), (x[2:].numpy(), y[2:].numpy())]
    results = []
    for capture in (False, True):
        eng = engine_for(dropout=0.2)
        losses = [eng.train_step(micro, 1e-2, capture=capture).loss]
        losses.append(eng.train_step(micro, 1e-2).loss)  # dropout masks drawn after the captured step
        results.append(
            (losses, {k: v.clone() for k, v in eng.state_dict()["model"].items()}, eng.state_dict()["rng"]["torch_cpu"])
        )
    (l0, w0, r0), (l1, w1, r1) = results
    assert l0 == l1 and torch.equal(r0, r1)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)


# ---- diagnostics.jsonl from real runs ------------------------------------------------------------
def run_cfg(steps, diagnostics_every=2):
    c = tiny_config(
        max_steps=steps,
        decay_steps=8,
        save_every=100,
        eval_every=0,
        log_every=1,
        diagnostics_every=diagnostics_every,
        device="cpu",
    )
    c = c.updated({"model.dropout": 0.1})
    return c


def records(run):
    return [json.loads(line) for line in (run / "diagnostics.jsonl").read_text().splitlines()]


FIELDS = [
    "step",
    "grad_norm",
    "components",
    "layer_grad_norm",
    "embedding_grad_norm",
    "head_grad_norm",
    "update_ratio",
    "activations",
    "attention_entropy",
    "histograms",
]


def test_diagnostics_jsonl_fields_resume_and_update_ratio(tmp_path):
    one, parts, off = tmp_path / "one", tmp_path / "parts", tmp_path / "off"
    train(one, config=run_cfg(8), text=TINY_TEXT)
    recs = records(one)
    assert [r["step"] for r in recs] == [2, 4, 6, 8]
    cfg = run_cfg(8)
    seq = cfg.train.seq_len or cfg.model.block_size
    for r in recs:
        assert list(r) == FIELDS
        assert set(r["components"]) == {"embeddings", "attention", "mlp", "norms"}
        assert all(set(s) == {"mean", "max", "std"} for s in r["components"].values())
        assert len(r["layer_grad_norm"]) == 2 and r["head_grad_norm"] is None
        assert set(r["update_ratio"]) == set(r["components"])
        assert all(
            set(a) == {"mlp", "residual"} and set(a["mlp"]) == {"mean", "std", "saturated"} for a in r["activations"]
        )
        assert len(r["attention_entropy"]) == 2 and all(len(h) == 2 for h in r["attention_entropy"])
        assert all(0 <= e <= math.log(seq) + 1e-6 for h in r["attention_entropy"] for e in h)
        assert all(len(h["activation"]["counts"]) == 30 and len(h["gradient"]["edges"]) == 31 for h in r["histograms"])
    # the grad_norm of a record is the one metrics.jsonl logs for that step
    metrics = {m["step"]: m for m in map(json.loads, (one / "metrics.jsonl").read_text().splitlines())}
    assert all(r["grad_norm"] == metrics[r["step"]]["grad_norm"] for r in recs)

    # the same run in three pieces (resumed twice): byte-identical weights and diagnostics
    train(parts, config=run_cfg(5), text=TINY_TEXT)
    shutil.copy(parts / "model.safetensors", tmp_path / "w5.safetensors")
    train(parts, overrides={"train.max_steps": 6}, resume=True)
    shutil.copy(parts / "model.safetensors", tmp_path / "w6.safetensors")
    train(parts, overrides={"train.max_steps": 8}, resume=True)
    assert (parts / "model.safetensors").read_bytes() == (one / "model.safetensors").read_bytes()
    assert (parts / "diagnostics.jsonl").read_bytes() == (one / "diagnostics.jsonl").read_bytes()

    # the update ratio of step 6 from the weights saved after steps 5 and 6
    w5, w6 = load_file(tmp_path / "w5.safetensors"), load_file(tmp_path / "w6.safetensors")
    rec6 = next(r for r in recs if r["step"] == 6)
    for g, ratio in rec6["update_ratio"].items():
        names = sorted(n for n in w5 if group_of(n) == g)
        a = np.concatenate([w5[n].double().numpy().ravel() for n in names])
        b = np.concatenate([w6[n].double().numpy().ravel() for n in names])
        assert ratio == pytest.approx(math.log10((b - a).std() / a.std()), abs=1e-4), g

    # and diagnostics do not change training
    train(off, config=run_cfg(8, diagnostics_every=0), text=TINY_TEXT)
    assert (off / "model.safetensors").read_bytes() == (one / "model.safetensors").read_bytes()
    assert not (off / "diagnostics.jsonl").exists()


def test_glass_engine_records_diagnostics_too(tmp_path):
    """--engine glass with diagnostics: the torch engine's record format, and capturing does not
    change the run (the same losses as with diagnostics off)."""

    def cfg(every, engine):
        c = run_cfg(4, diagnostics_every=every)
        c = c.updated({"train.engine": engine})
        return c

    train(tmp_path / "g", config=cfg(2, "glass"), text=TINY_TEXT)
    train(tmp_path / "t", config=cfg(2, "torch"), text=TINY_TEXT)
    train(tmp_path / "o", config=cfg(0, "glass"), text=TINY_TEXT)
    g, t = records(tmp_path / "g"), records(tmp_path / "t")
    assert [r["step"] for r in g] == [r["step"] for r in t] == [2, 4]
    assert g[0].keys() == t[0].keys()

    def losses(run):
        return [json.loads(line)["train_loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]

    assert losses(tmp_path / "o") == losses(tmp_path / "g")
