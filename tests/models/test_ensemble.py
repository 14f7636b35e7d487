"""``model.ensemble = K``: K GPTs trained side by side, predicting the mean of their
probabilities; each member learns on its own loss, the ensemble is scored on the mixture."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from glassgpt.cli import main
from glassgpt.config import ModelConfig, resolve
from glassgpt.errors import ConfigError
from glassgpt.generation.sampling import generate
from glassgpt.interop.hf import export_refusal
from glassgpt.models.ensemble import Ensemble, member_name, mixture_log_probs
from glassgpt.models.factory import build
from glassgpt.models.footprint import parameter_count
from glassgpt.models.gpt import GPT
from glassgpt.training.diagnostics import param_group
from glassgpt.training.optim import param_role


def _cfg(**kw) -> ModelConfig:
    base = dict(
        vocab_size=11,
        block_size=8,
        n_layer=2,
        n_head=2,
        n_embd=16,
        pos="rope",
        norm="rmsnorm",
        bias=False,
        qkv_bias=False,
        dropout=0.1,
        ensemble=3,
    )
    return ModelConfig(**{**base, **kw})


def _ensemble(seed: int = 0, **kw) -> Ensemble:
    torch.manual_seed(seed)
    model = build(_cfg(**kw))
    assert isinstance(model, Ensemble)
    return model


def test_the_ensemble_predicts_the_mean_of_its_members_probabilities():
    model = _ensemble().eval()
    idx = torch.randint(0, 11, (4, 8))
    with torch.no_grad():
        logits, _ = model(idx)
        probs = torch.stack([m(idx)[0].softmax(-1) for m in model.members]).mean(0)
    assert torch.allclose(logits.exp(), probs, atol=1e-6)
    assert torch.allclose(logits.exp().sum(-1), torch.ones(4, 8), atol=1e-5)  # log-probabilities


def test_members_start_apart_and_the_mixture_scores_no_worse_than_their_mean():
    model = _ensemble().eval()
    a, b = (m.transformer.h[0].attn.c_attn.weight for m in model.members[:2])
    assert not torch.allclose(a, b)
    idx, y = torch.randint(0, 11, (6, 8)), torch.randint(0, 11, (6, 8))
    y[:, :2] = -1  # ignored targets stay ignored
    with torch.no_grad():
        _, mixture = model(idx, y)
        own = [F.cross_entropy(m(idx)[0].reshape(-1, 11), y.reshape(-1), ignore_index=-1) for m in model.members]
    assert mixture.item() <= sum(o.item() for o in own) / 3 + 1e-6  # Jensen: -log mean p <= mean -log p


@pytest.mark.parametrize("rows,shares", [(7, [[0, 3, 6], [1, 4], [2, 5]]), (2, [[0, 1]] * 3)])
def test_in_training_each_member_learns_on_its_own_rows_and_loss(rows, shares):
    model = _ensemble(dropout=0.0).train()
    idx, y = torch.randint(0, 11, (rows, 8)), torch.randint(0, 11, (rows, 8))
    logits, loss = model(idx, y)
    assert logits is None
    loss.backward()
    own = [m(idx[share], y[share])[1] for m, share in zip(model.members, shares)]  # rows dealt k, k+3, ...
    assert loss.item() == pytest.approx(sum(o.item() for o in own) / 3, abs=1e-6)
    for m, o in zip(model.members, own):
        got = {n: p.grad.clone() for n, p in m.named_parameters()}
        m.zero_grad()
        (o / 3).backward()
        for n, p in m.named_parameters():
            assert torch.allclose(got[n], p.grad, atol=1e-7), n  # the member's own gradient, nothing else


def test_weights_round_trip_under_member_names():
    model = _ensemble()
    w = model.weights()
    assert all(n.startswith(("members.0.", "members.1.", "members.2.")) for n in w)
    assert "members.0.lm_head.weight" not in w  # the tied head is the embedding, stored once
    other = _ensemble(seed=1)
    other.load_weights(w)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    single = GPT(_cfg(ensemble=1))
    assert model.num_params() == 3 * single.num_params() == parameter_count(_cfg())
    assert parameter_count(_cfg(ensemble=1)) == single.num_params()  # rotary positions have no table
    with pytest.raises(Exception, match="do not fit"):
        single.load_weights(w)


def test_cached_sampling_gives_the_same_tokens_as_recomputing():
    model = _ensemble().eval()
    a = generate(model, [1, 2], 6, temperature=1.0, top_k=None, top_p=None, num_samples=3, seed=4, use_cache=True)
    b = generate(model, [1, 2], 6, temperature=1.0, top_k=None, top_p=None, num_samples=3, seed=4, use_cache=False)
    assert a == b and len(a) == 3


def test_a_members_parameters_have_the_gpts_roles_and_groups():
    assert member_name("members.12.transformer.h.0.attn.c_attn.weight") == "transformer.h.0.attn.c_attn.weight"
    assert member_name("transformer.wte.weight") == "transformer.wte.weight"
    assert param_role("members.1.transformer.h.0.mlp.c_fc.weight", 2) == "matrix"
    assert param_role("members.1.transformer.wte.weight", 2) == "embed"
    assert param_group("members.0.transformer.h.1.ln_2.weight") == "norms"


def test_the_mixture_of_identical_members_is_the_member():
    logits = torch.randn(3, 5, 7)
    assert torch.allclose(mixture_log_probs([logits, logits]), F.log_softmax(logits, -1), atol=1e-6)
    two = mixture_log_probs([torch.tensor([0.0, math.log(3)]), torch.tensor([math.log(3), 0.0])])
    assert torch.allclose(two.exp(), torch.tensor([0.5, 0.5]))  # (1/4 + 3/4) / 2 each


@pytest.mark.parametrize(
    "settings,words",
    [
        ({"model.ensemble": 0}, "from 1 to 16"),
        ({"model.ensemble": 17}, "from 1 to 16"),
        (
            {
                "model.ensemble": 2,
                "train.engine": "glass",
                "model.pos": "learned",
                "model.qk_norm": False,
                "train.optimizer": "adamw",
            },
            "glass engine",
        ),
        ({"model.ensemble": 2, "train.parallel": "fsdp"}, "FSDP"),
        ({"model.ensemble": 2, "train.diagnostics_every": 10}, "diagnostics"),
    ],
)
def test_settings_an_ensemble_cannot_take_are_one_sentence(settings, words):
    with pytest.raises(ConfigError, match=words):
        resolve("makemore-tuned", overrides=settings)


def test_a_ladder_model_is_not_an_ensemble():
    with pytest.raises(ConfigError, match="mlp model is one model"):
        resolve("makemore-mlp", overrides={"model.ensemble": 2})


def test_hugging_face_export_refuses_an_ensemble():
    assert "ensemble" in export_refusal(ModelConfig(ensemble=2))
    assert export_refusal(ModelConfig()) == ""


def test_an_ensemble_trains_evaluates_and_samples_through_the_cli(tmp_path, capsys):
    data = tmp_path / "words.txt"
    data.write_text("\n".join(["anna", "bob", "carla", "dan", "eve", "fay", "gus", "hana"] * 10) + "\n")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                "gpt",
                "--preset",
                "makemore-gpt-fast",
                "--data",
                str(data),
                "--out",
                str(run),
                "--max-steps",
                "20",
                "--quiet",
                "--threads",
                "1",
                "--set",
                "model.ensemble=2",
                "--set",
                "model.n_layer=1",
                "--set",
                "model.n_embd=16",
                "--set",
                "model.n_head=2",
            ]
        )
        == 0
    )
    assert json.loads((run / "config.json").read_text())["model"]["ensemble"] == 2
    summary = json.loads((run / "summary.json").read_text())["final"]["splits"]
    capsys.readouterr()
    assert main(["eval", str(run), "--splits"]) == 0
    out = json.loads(capsys.readouterr().out)
    for split in ("train", "dev", "test"):
        assert out[split]["loss"] == pytest.approx(summary[split]["loss"], abs=1e-5)
    assert main(["sample", str(run), "--num-samples", "4", "--seed", "3"]) == 0
    names = capsys.readouterr().out.splitlines()  # a name may be empty: "." first
    assert len(names) == 4 and all(set(n) <= set("abcdefghlnorsuvy") for n in names)
    assert main(["export", str(run), "--hf", str(tmp_path / "hf")]) == 2
    assert "ensemble" in capsys.readouterr().err
