"""Optimizer options: Muon's orthogonalised update, a learning rate per parameter role, both
engines, and exact resume with the new optimizer state."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.config import ModelConfig, resolve
from glassgpt.errors import ConfigError
from glassgpt.models import GPT
from glassgpt.training.engines import GlassEngine, TorchEngine
from glassgpt.training.launch import train
from glassgpt.training.optim import Muon, Optimizers, newton_schulz, param_role, update_scale

#: five quintic Newton–Schulz steps put every singular value of a full-rank, not
#: ill-conditioned matrix in about [0.68, 1.14] (measured); the test allows [0.6, 1.2]
NS_BAND = (0.6, 1.2)


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (384, 128)])
def test_newton_schulz_gives_near_orthogonal_matrices(shape):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * 7.0
    o = newton_schulz(g)
    s = torch.linalg.svdvals(o)
    assert NS_BAND[0] <= s.min().item() and s.max().item() <= NS_BAND[1]
    small = min(shape)
    gram = o.T @ o if shape[0] > shape[1] else o @ o.T  # (small, small): near the identity
    assert gram.shape == (small, small) and (gram - torch.eye(small)).abs().max().item() < 0.5
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    polar = u @ vh  # the exact orthogonal factor: the iteration keeps the singular vectors
    assert (o * polar).sum() / (o.norm() * polar.norm()) > 0.97


def test_newton_schulz_in_bfloat16_stays_near_the_float32_result():
    """bfloat16 keeps 8 bits of mantissa: the same band of singular values (measured [0.674,
    1.141] against float32's [0.682, 1.134]), the same direction (cosine measured 0.9997; the
    test asks 0.995)."""
    g = torch.randn(384, 128, generator=torch.Generator().manual_seed(3))
    low, high = newton_schulz(g, dtype=torch.bfloat16), newton_schulz(g)
    assert low.dtype == torch.bfloat16
    s = torch.linalg.svdvals(low.float())
    assert NS_BAND[0] <= s.min().item() and s.max().item() <= NS_BAND[1]
    assert (low.float() * high).sum() / (low.float().norm() * high.norm()) > 0.995


def test_the_loop_converges_exactly_with_the_cubic_coefficients():
    g = torch.randn(48, 20, generator=torch.Generator().manual_seed(1))
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    assert (newton_schulz(g, steps=40, coefficients=(1.5, -0.5, 0.0)) - u @ vh).abs().max().item() < 1e-5


def test_muon_step_is_momentum_then_an_orthogonalised_update():
    torch.manual_seed(2)
    w = torch.nn.Parameter(torch.randn(32, 16))
    start = w.detach().clone()
    opt = Muon([w], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0, scale="aspect")
    g1, g2 = torch.randn(32, 16), torch.randn(32, 16)
    w.grad = g1
    opt.step()
    step1 = (start - w.detach()) / (0.1 * update_scale((32, 16), "aspect"))
    s = torch.linalg.svdvals(step1)
    assert NS_BAND[0] <= s.min().item() and s.max().item() <= NS_BAND[1]  # the update itself is near-orthogonal
    assert torch.allclose(step1, newton_schulz(g1 + 0.9 * g1), atol=1e-6)  # buffer g1, nesterov g1 + 0.9 g1
    before = w.detach().clone()
    w.grad = g2
    opt.step()
    buf = 0.9 * g1 + g2
    expected = before - 0.1 * update_scale((32, 16), "aspect") * newton_schulz(g2 + 0.9 * buf)
    assert torch.allclose(w.detach(), expected, atol=1e-6)
    assert torch.allclose(opt.state[w]["momentum_buffer"], buf)
    assert update_scale((32, 16), "aspect") == pytest.approx(2**0.5)
    assert update_scale((16, 32), "adamw") == pytest.approx(0.2 * 32**0.5)
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.nn.Parameter(torch.zeros(4))])


def test_the_updates_in_any_order_give_the_bytes_of_one_step():
    """``updates()`` cuts a step into independent items (one per Muon matrix, AdamW whole): an
    engine may run them on any threads in any order."""
    t = resolve("baby", overrides={"train.optimizer": "muon", "train.muon_ns_steps": "3"}).train
    torch.manual_seed(4)
    a = gpt(tie=False)
    b = gpt(tie=False)
    b.load_state_dict(a.state_dict())
    stepped, itemised = Optimizers(a, t, torch.device("cpu")), Optimizers(b, t, torch.device("cpu"))
    for _ in range(2):
        for pa, pb in zip(a.parameters(), b.parameters()):
            pa.grad = torch.randn_like(pa)
            pb.grad = pa.grad.clone()
        stepped.step()
        updates = itemised.updates()
        matrices = sum(1 for n, p in a.named_parameters() if n.startswith("transformer.h.") and p.dim() == 2)
        assert len(updates) == matrices + 1  # one per Muon matrix, and AdamW's whole step
        assert all(cost > 0 for cost, _ in updates)
        for _, update in reversed(updates):
            update()
    assert all(torch.equal(pa, pb) for pa, pb in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("native", [True, False])
def test_muon_orthogonalises_in_bfloat16_only_under_bf16_autocast(monkeypatch, native):
    monkeypatch.setattr("glassgpt.training.speed.cpu_bfloat16", lambda: native)
    for dtype in ("float32", "bfloat16"):
        engine = TorchEngine(_engine_cfg("torch", optimizer="muon", dtype=dtype))
        bf16 = native and dtype == "bfloat16"
        assert engine.speed.bf16 == bf16
        assert engine.optimizer.muon.param_groups[0]["ns_dtype"] == (torch.bfloat16 if bf16 else torch.float32)


def gpt(tie=True):
    return GPT(ModelConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=16, tie_weights=tie))


def test_every_parameter_has_one_role():
    roles = {n: param_role(n, p.dim()) for n, p in gpt(tie=False).named_parameters()}
    assert roles["transformer.wte.weight"] == roles["transformer.wpe.weight"] == "embed"
    assert roles["lm_head.weight"] == "head"
    assert roles["transformer.h.0.attn.c_attn.weight"] == roles["transformer.h.1.mlp.c_proj.weight"] == "matrix"
    assert roles["transformer.h.0.ln_1.weight"] == roles["transformer.h.0.attn.c_attn.bias"] == "scalar"
    assert roles["transformer.ln_f.weight"] == "scalar"
    assert set(roles.values()) == {"embed", "head", "matrix", "scalar"}


def test_muon_takes_the_block_matrices_and_adamw_the_rest():
    t = resolve(
        "baby",
        overrides={
            "train.optimizer": "muon",
            "train.lr": "0.001",
            "train.lr_matrix": "0.02",
            "train.lr_embed": "0.004",
        },
    ).train
    model = gpt(tie=True)
    opt = Optimizers(model, t, torch.device("cpu"))
    muon = {id(p) for g in opt.muon.param_groups for p in g["params"]}
    adamw = {id(p) for g in opt.adamw.param_groups for p in g["params"]}
    for n, p in model.named_parameters():
        assert (id(p) in muon) == (n.startswith("transformer.h.") and p.dim() == 2), n
        assert (id(p) in adamw) != (id(p) in muon), n
    opt.set_lr(0.0005)  # the schedule is at half the peak: every role at half its own peak
    rates = {g["role"]: g["lr"] for g in opt.param_groups}
    assert rates == {"embed": pytest.approx(0.002), "matrix": pytest.approx(0.01), "scalar": 0.0005}


def _engine_cfg(engine, **train):
    cfg = resolve("baby", overrides={"train.engine": engine, **{f"train.{k}": str(v) for k, v in train.items()}})
    cfg.model.__dict__.update(dict(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=16))
    return cfg


@pytest.mark.parametrize("engine", [TorchEngine, GlassEngine])
def test_a_role_learns_at_its_own_rate_on_both_engines(engine):
    name = "torch" if engine is TorchEngine else "glass"
    e = engine(_engine_cfg(name, lr="0.01", lr_matrix="1e-30", weight_decay="0"))
    weights = lambda: {k: v.clone() for k, v in e.state_dict()["model"].items()}  # noqa: E731
    before = weights()
    rng = np.random.default_rng(0)
    for _ in range(3):
        e.train_step([(rng.integers(0, 20, (4, 8)), rng.integers(0, 20, (4, 8)))], 0.01)
    after = weights()
    moved = {k: (after[k] - before[k]).abs().max().item() for k in before}
    assert moved["transformer.h.0.attn.c_attn.weight"] < 1e-20 and moved["transformer.h.1.mlp.c_fc.weight"] < 1e-20
    assert moved["transformer.wte.weight"] > 1e-3 and moved["transformer.h.0.ln_1.weight"] > 1e-3


def test_glass_per_role_rates_match_torch():
    rates = dict(lr="0.01", lr_embed="0.03", lr_scalar="0.002", lr_matrix="0.005")
    g, t = GlassEngine(_engine_cfg("glass", **rates)), TorchEngine(_engine_cfg("torch", **rates))
    rng = np.random.default_rng(1)
    for step in range(5):
        batch = [(rng.integers(0, 20, (4, 8)), rng.integers(0, 20, (4, 8)))]
        assert g.train_step(batch, 0.01).loss == pytest.approx(t.train_step(batch, 0.01).loss, rel=1e-5), step


def test_muon_run_resumes_byte_identically(tmp_path):
    """12 steps in one go == 6 + resume + 6, with Muon, per-role rates and the wsd schedule."""

    def cfg(steps):
        c = tiny_config(
            max_steps=steps,
            decay_steps=12,
            save_every=4,
            eval_every=6,
            log_every=2,
            warmup_steps=2,
            optimizer="muon",
            lr_matrix=0.02,
            lr_embed=0.01,
            schedule="wsd",
            decay_fraction=0.5,
        )
        c = c.updated({"model.dropout": 0.1})
        return c

    train(tmp_path / "one", config=cfg(12), text=TINY_TEXT)
    train(tmp_path / "two", config=cfg(6), text=TINY_TEXT)
    state = load_file(str(tmp_path / "two" / "state" / "optimizer.safetensors"))
    assert "transformer.h.0.attn.c_attn.weight.momentum_buffer" in state
    assert "transformer.h.0.attn.c_attn.weight.exp_avg" not in state  # Muon's, not AdamW's
    assert "transformer.wte.weight.exp_avg" in state and "transformer.ln_f.weight.exp_avg_sq" in state
    train(tmp_path / "two", overrides={"train.max_steps": 12}, resume=True)
    a = (tmp_path / "one" / "model.safetensors").read_bytes()
    assert a == (tmp_path / "two" / "model.safetensors").read_bytes()


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("train.optimizer", "lion", "adamw, muon, sgd"),
        ("train.lr_head", "-1", "lr_head"),
        ("train.muon_momentum", "1.0", "muon_momentum"),
        ("train.muon_scale", "big", "adamw or aspect"),
        ("train.schedule", "exponential", "wsd, step"),
        ("train.decay_fraction", "0", "decay_fraction"),
    ],
)
def test_bad_optimizer_settings_are_one_sentence(key, value, words):
    with pytest.raises(ConfigError, match=words):
        resolve("baby", overrides={key: value})


def test_glass_refuses_muon_in_one_sentence():
    with pytest.raises(ConfigError, match="train.optimizer=muon; use --engine torch"):
        resolve("baby", overrides={"train.engine": "glass", "train.optimizer": "muon"})
