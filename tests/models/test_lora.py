"""LoRA: B starts at zero, so step 0 is the base model; only the adapters (and the rows of the
tokens a stage added) train; merging folds them in exactly; the counts the header shows; resuming
is exact; the settings that cannot work."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from support.tinyrun import tiny_config

from glassgpt.config import ModelConfig, validate
from glassgpt.errors import ConfigError
from glassgpt.models import GPT, lora
from glassgpt.models.footprint import parameter_count, trainable_count
from glassgpt.stages.lora import Lora
from glassgpt.training.engines import make_engine
from glassgpt.training.header import params_text
from glassgpt.training.state_check import expected_state

BASE = ModelConfig(vocab_size=23, n_layer=2, n_head=2, n_embd=16, block_size=8)
ADAPTED = dataclasses.replace(BASE, lora_rank=4, lora_targets=("q", "v", "o", "fc", "proj"))
#: the last 3 ids are tokens a stage added: their rows train too, of a tied embedding or an untied head
ROWS_TIED = dataclasses.replace(ADAPTED, lora_rows=3)
ROWS_UNTIED = dataclasses.replace(ADAPTED, lora_rows=3, tie_weights=False, head_bias=True)
CONFIGS = pytest.mark.parametrize(
    "cfg", [ADAPTED, ROWS_TIED, ROWS_UNTIED], ids=["adapters", "tied-rows", "untied-rows"]
)


def models(seed: int = 0, cfg: ModelConfig = ADAPTED) -> tuple[GPT, GPT]:
    torch.manual_seed(seed)
    base = GPT(lora.without_lora(cfg))
    adapted = GPT(cfg)
    adapted.load_weights({**base.weights(), **lora.fresh_adapters(cfg, seed=1)})
    return base, adapted


@CONFIGS
def test_step_zero_is_the_base_model_exactly(cfg):
    base, adapted = models(cfg=cfg)
    x = torch.randint(0, 23, (3, 8))
    assert torch.equal(base(x)[0], adapted(x)[0])
    names = [n for n, p in adapted.named_parameters() if p.requires_grad]
    assert names and all(".lora_" in n for n in names)
    assert "transformer.h.0.attn.c_attn.weight" in adapted.weights()  # the GPT-2 names stay
    assert "transformer.h.1.attn.c_attn.lora_B.v" in names and not any(".lora_A.k" in n for n in names)


@CONFIGS
def test_merge_folds_the_adapters_into_the_weights(cfg):
    base, adapted = models(cfg=cfg)
    with torch.no_grad():
        for name, p in adapted.named_parameters():
            if ".lora_B." in name or name in lora.ROWS:
                p.normal_(0, 0.2)
    x = torch.randint(0, 23, (3, 8))
    x[:, 0] = torch.tensor([20, 21, 22])  # the added tokens as inputs (and their logits are read everywhere)
    merged = lora.merge(adapted.weights(), cfg)
    assert not any(".lora_" in n for n in merged)
    base.load_weights(merged)
    torch.testing.assert_close(base(x)[0], adapted(x)[0], atol=1e-5, rtol=0)  # float32 rounding of W + ΔW
    assert not torch.equal(
        base.weights()["transformer.h.0.attn.c_attn.weight"],
        models()[0].weights()["transformer.h.0.attn.c_attn.weight"],
    )


def test_counts_and_the_header():
    _, adapted = models()
    assert parameter_count(ADAPTED) == adapted.num_params()
    trained = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    assert trainable_count(ADAPTED) == lora.adapter_count(ADAPTED) == trained
    # q, v, o: 4·(16+16) each; fc: 4·(16+64); proj: 4·(64+16); two layers
    assert trained == 2 * (3 * 4 * 32 + 2 * 4 * 80)
    assert params_text(ADAPTED).startswith(f"trains {trained:,} of {parameter_count(ADAPTED):,} params")
    assert params_text(BASE) == f"{parameter_count(BASE):,} params"


@pytest.mark.parametrize("cfg, rows", [(ROWS_TIED, 3 * 16), (ROWS_UNTIED, 2 * 3 * 16 + 3)])
def test_the_added_tokens_rows_are_counted(cfg, rows):
    _, adapted = models(cfg=cfg)
    trained = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    assert trained == lora.adapter_count(ADAPTED) + rows == trainable_count(cfg)
    assert parameter_count(cfg) == adapted.num_params() == parameter_count(lora.without_lora(cfg)) + trained
    assert (
        params_text(cfg)
        == f"trains {trained:,} of {parameter_count(cfg):,} params ({trained / parameter_count(cfg):.2%}: LoRA rank 4)"
    )


def test_the_engine_trains_the_adapters_alone():
    cfg = tiny_config({"model.vocab_size": 23, "model.lora_rank": 4}, max_steps=3)
    engine = make_engine(cfg)
    before = {k: v.clone() for k, v in engine.state_dict()["model"].items()}
    rng = np.random.default_rng(0)
    x = rng.integers(0, 23, (4, 16))
    for _ in range(3):
        engine.train_step([(x, np.roll(x, -1, 1))], lr=1e-2)
    after = engine.state_dict()["model"]
    changed = sorted(k for k in after if not torch.equal(after[k], before[k]))
    assert changed and all(".lora_" in k for k in changed)
    assert any(".lora_B." in k for k in changed)
    optimizer = expected_state(engine).required["optimizer.safetensors"]
    assert optimizer and all(".lora_" in k for k in optimizer)
    assert set(engine.state_dict()["optimizer"]) == set(optimizer)


def rows_engine(tied: bool):
    settings = {"model.vocab_size": 23, "model.lora_rank": 4, "model.lora_rows": 3, "model.tie_weights": tied}
    return make_engine(tiny_config({**settings, "model.head_bias": not tied}, max_steps=3))


def rows_batch() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).integers(0, 23, (4, 16))
    x[:, ::4] = 22  # an added token, as an input and as a target
    return x, np.roll(x, -1, 1)


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_the_added_tokens_rows_train_and_the_others_stay_frozen(tied):
    engine = rows_engine(tied)
    before = {k: v.clone() for k, v in engine.state_dict()["model"].items()}
    for _ in range(3):
        engine.train_step([rows_batch()], lr=1e-2)
    after = engine.state_dict()["model"]
    assert all(torch.equal(after[k], before[k]) for k in after if ".lora_" not in k)  # the GPT's weights: frozen
    model = engine.cfg.model
    start, merged = lora.merge(before, model), lora.merge(after, model)
    grown = ["transformer.wte.weight"] + ([] if tied else ["lm_head.weight", "lm_head.bias"])
    for name in grown:
        assert torch.equal(merged[name][:20], start[name][:20])  # the base vocabulary's rows: unchanged
        assert not torch.equal(merged[name][20:], start[name][20:])  # the added tokens' rows: trained
    optimizer = expected_state(engine).required["optimizer.safetensors"]
    assert {k.rsplit(".", 1)[0] for k in optimizer} == set(engine.trained_names())
    assert "transformer.wte.lora_rows" in engine.trained_names()


def test_resuming_the_rows_is_exact():
    straight, resumed = rows_engine(False), rows_engine(False)
    for _ in range(2):
        straight.train_step([rows_batch()], lr=1e-2)
    resumed.load_state_dict(straight.state_dict())
    straight.train_step([rows_batch()], lr=1e-2)
    resumed.train_step([rows_batch()], lr=1e-2)
    a, b = straight.state_dict(), resumed.state_dict()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["optimizer"][k], b["optimizer"][k]) for k in a["optimizer"])


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"model.lora_rank": 33}, "model.lora_rank (--lora) must be from 1 to the width model.n_embd (32)"),
        ({"model.lora_rank": -1}, "model.lora_rank (--lora) must be from 1"),
        ({"model.lora_rank": 4, "model.lora_targets": "q|x"}, "model.lora_targets among q, k, v, o, fc, proj"),
        ({"model.lora_rows": 2}, "model.lora_rows (the added tokens' rows that LoRA trains) must be from 0"),
        (
            {"model.lora_rank": 4, "train.engine": "glass"},
            "the glass engine has no hand-written gradients for model.lora_rank",
        ),
    ],
)
def test_settings_that_cannot_work_are_one_sentence(settings, words):
    with pytest.raises(ConfigError) as err:
        validate(tiny_config(settings))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_rank_of_zero_is_refused():
    with pytest.raises(ConfigError, match="--lora is the adapters' rank and must be at least 1, got 0"):
        Lora(0)
