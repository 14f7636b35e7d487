"""The stages after fine-tuning end to end on the tiny chat run: a reward model that learns the
pairs, DPO with its reference computed once, RL against a reward model that logs every figure
and resumes exactly after a stop, LoRA fine-tuning, merging and exporting; the source runs are
only ever read."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from support.chatrun import QA, tree_digest, write_sft

from glassgpt.cli import main
from glassgpt.data import rollouts
from glassgpt.data.pair_source import REFERENCE
from glassgpt.models.from_run import load_run
from glassgpt.stages.dpo import dpo
from glassgpt.stages.finetune import finetune
from glassgpt.stages.lora import Lora
from glassgpt.stages.reward import train_reward_model
from glassgpt.stages.rl import rl

TIMING = ("elapsed_s", "tokens_per_sec", "flops_per_sec", "mfu", "rollout_tokens_per_s", "update_tokens_per_s")


def pairs_lines() -> list[dict]:
    """Each question with its own answer (chosen) against the next question's (rejected), three times."""
    out = []
    for i, (question, answer) in enumerate(QA * 3):
        out.append({"prompt": question, "chosen": answer, "rejected": QA[(i + 1) % len(QA)][1]})
    return out


def write_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stages")
    return {
        "root": root,
        "pairs": write_lines(root / "pairs.jsonl", pairs_lines()),
        "prompts": write_lines(root / "prompts.jsonl", [{"prompt": q, "answer": a} for q, a in QA * 2]),
    }


@pytest.fixture(scope="module")
def rm(chat, files) -> Path:
    out = files["root"] / "rm"
    train_reward_model(chat, files["pairs"], out, max_steps=40, lr=3e-3, batch_size=8, eval_every=20, val_fraction=0.25)
    return out


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_the_reward_model_learns_to_rank_the_pairs(chat, rm, files, capsys):
    config = json.loads((rm / "config.json").read_text())
    assert config["kind"] == "reward" and config["model"]["reward_head"] and config["train"]["objective"] == "reward"
    stage = json.loads((rm / "stage.json").read_text())
    assert stage["before"]["pair_accuracy"] == 0.0 and stage["before"]["loss"] == pytest.approx(np.log(2))
    assert stage["after"]["pair_accuracy"] >= 0.75 and stage["after"]["reward_margin"] > 0.5
    logged = [r for r in records(rm) if "pair_accuracy" in r]
    assert logged and logged[-1]["pair_accuracy"] >= 0.75
    run = load_run(rm)
    assert run.tokenizer.special_tokens["<|reward|>"] == run.tokenizer.vocab_size - 1
    question, right = QA[0]
    assert main(["reward-score", str(rm), "--prompt", question, "--text", right, "--json"]) == 0
    good = json.loads(capsys.readouterr().out)[0]
    assert main(["reward-score", str(rm), "--prompt", question, "--text", QA[1][1], "--json"]) == 0
    assert good > json.loads(capsys.readouterr().out)[0]
    assert main(["reward-score", str(rm), "--file", str(files["pairs"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * len(pairs_lines()) and all(line.count("\t") == 2 for line in lines)


def test_dpo_keeps_its_reference_and_raises_the_implicit_accuracy(chat, files, tmp_path):
    before_source = tree_digest(chat)
    result = dpo(chat, files["pairs"], tmp_path / "dpo", max_steps=30, lr=1e-3, batch_size=8, eval_every=10)
    assert tree_digest(chat) == before_source
    assert result.before["implicit_accuracy"] == 0.0 and result.after["implicit_accuracy"] >= 0.75
    config = json.loads((tmp_path / "dpo" / "config.json").read_text())
    assert config["kind"] == "chat" and config["train"]["objective"] == "dpo" and config["train"]["dpo_beta"] == 0.1
    reference = load_file(str(tmp_path / "dpo" / "data" / REFERENCE))
    assert reference["train"].shape[1] == 2 and bool((reference["train"] < 0).all())
    logged = [r for r in records(tmp_path / "dpo") if "implicit_accuracy" in r]
    assert logged and {"implicit_margin", "chosen_reward", "rejected_reward"} <= set(logged[-1])
    assert logged[-1]["chosen_reward"] > logged[-1]["rejected_reward"]
    assert main(["eval", str(tmp_path / "dpo"), "--quiet"]) == 0  # the response loss of the held-out chosen replies


def test_dpo_nll_keeps_the_chosen_replies_likelier_than_plain_dpo(chat, files, tmp_path):
    """The same pairs and steps with α = 1: the chosen replies' NLL ends lower than plain DPO's, and
    the weight is recorded in the run."""
    settings = dict(max_steps=30, lr=1e-3, batch_size=8, eval_every=10)
    dpo(chat, files["pairs"], tmp_path / "plain", **settings)
    dpo(chat, files["pairs"], tmp_path / "nll", nll=1.0, **settings)
    config = json.loads((tmp_path / "nll" / "config.json").read_text())
    assert config["train"]["dpo_nll"] == 1.0
    last = {
        name: [r for r in records(tmp_path / name) if "chosen_nll" in r][-1]["chosen_nll"] for name in ("plain", "nll")
    }
    assert last["nll"] < last["plain"]


def rl_run(chat, rm, files, out: Path, **settings) -> None:
    rl(
        chat,
        out,
        reward=rm,
        prompts=files["prompts"],
        group_size=4,
        prompts_per_step=2,
        max_new_tokens=8,
        ppo_epochs=2,
        kl_beta=0.1,
        max_steps=5,
        lr=1e-3,
        eval_every=2,
        **settings,
    )


def test_rl_against_a_reward_model_logs_every_figure(chat, rm, files, tmp_path):
    sources = tree_digest(chat), tree_digest(rm)
    rl_run(chat, rm, files, tmp_path / "rl")
    assert (tree_digest(chat), tree_digest(rm)) == sources
    run = tmp_path / "rl"
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "chat" and config["train"]["objective"] == "pg" and config["data"]["kind"] == "prompts"
    last = records(run)[-1]
    for key in (
        "reward",
        "accuracy",
        "kl",
        "entropy",
        "completion_length",
        "rollout_tokens_per_s",
        "update_tokens_per_s",
    ):
        assert np.isfinite(last[key]), key
    assert 0.0 <= last["accuracy"] <= 1.0 and last["kl"] >= 0 and 1 <= last["completion_length"] <= 8
    stage = json.loads((run / "stage.json").read_text())
    assert set(stage["before"]) == {"reward", "prompts"} and stage["steps"] == 5
    assert {p.name for p in (run / "data").iterdir()} == {"prompts.jsonl", "held_out.jsonl", "reference", "reward"}


def test_rl_resumes_exactly_after_a_stop_in_the_middle_of_a_reused_batch(chat, rm, files, tmp_path, monkeypatch):
    rl_run(chat, rm, files, tmp_path / "straight")
    real, calls = rollouts.RolloutBatches.next, []

    def next_then_stop(self, n):
        calls.append(n)
        if len(calls) == 3:  # step 3 makes new rollouts; stopping after it leaves them half used
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, n)

    monkeypatch.setattr(rollouts.RolloutBatches, "next", next_then_stop)
    rl_run(chat, rm, files, tmp_path / "stopped")
    monkeypatch.setattr(rollouts.RolloutBatches, "next", real)
    trainer = json.loads((tmp_path / "stopped" / "state" / "trainer.json").read_text())
    assert trainer["step"] == 3 and trainer["loader_rng"]["uses"] == 1 and trainer["loader_rng"]["pending"]
    assert main(["train", "--out", str(tmp_path / "stopped"), "--resume", "--quiet"]) == 0
    a = (tmp_path / "straight" / "model.safetensors").read_bytes()
    assert a == (tmp_path / "stopped" / "model.safetensors").read_bytes()

    def steady(run):
        return [{k: v for k, v in r.items() if k not in TIMING} for r in records(run)]

    straight, stopped = steady(tmp_path / "straight"), steady(tmp_path / "stopped")
    assert [r for r in stopped if r["step"] != 3] == straight  # the stopped run also logged the step it stopped at


def test_lora_fine_tuning_merging_and_export(base, files, tmp_path, capsys):
    sft = write_sft(tmp_path / "sft.jsonl")
    out = tmp_path / "lora"
    finetune(base, sft, out, max_steps=20, lr=3e-3, batch_size=4, eval_every=0, transcript=0, lora=Lora(4))
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["lora_rank"] == 4 and config["kind"] == "chat"
    adapters = load_file(str(out / "adapters.safetensors"))
    weights = load_file(str(out / "model.safetensors"))
    assert adapters and set(adapters) == {k for k in weights if ".lora_" in k}
    start = load_file(str(base / "model.safetensors"))
    unchanged = [k for k in start if k in weights and k != "transformer.wte.weight"]  # wte grew by the chat tokens
    assert unchanged and all(torch.equal(start[k], weights[k]) for k in unchanged)  # frozen
    assert any(float(v.abs().max()) > 0 for k, v in adapters.items() if ".lora_B." in k)  # trained
    old = start["transformer.wte.weight"].shape[0]
    assert config["model"]["lora_rows"] == config["model"]["vocab_size"] - old  # the chat tokens' rows train too
    assert main(["merge", str(out), "--out", str(tmp_path / "merged")]) == 0
    merged, adapted = load_run(tmp_path / "merged"), load_run(out)
    assert merged.config.model.lora_rank == 0 and not any(".lora_" in k for k in merged.model.weights())
    wte, grown = merged.model.weights()["transformer.wte.weight"], weights["transformer.wte.weight"]
    assert torch.equal(wte[:old], start["transformer.wte.weight"])  # the base vocabulary's rows: unchanged
    end = adapted.tokenizer.special_tokens["<|assistant_end|>"]
    assert not torch.equal(wte[end], grown[end])  # <|assistant_end|>'s row learnt
    x = torch.randint(0, adapted.tokenizer.vocab_size, (2, 12))
    torch.testing.assert_close(merged.model(x)[0], adapted.model(x)[0], atol=1e-5, rtol=0)
    assert main(["export", str(out), "--hf", str(tmp_path / "hf")]) == 0
    exported = load_file(str(tmp_path / "hf" / "model.safetensors"))
    assert not any("lora" in k for k in exported)
    name = "transformer.h.0.attn.c_attn.weight"  # GPT-2's Conv1D stores it transposed
    assert torch.equal(exported[name].t(), merged.model.weights()[name])
    assert not torch.equal(exported[name].t(), weights[name])  # the adapters are in it


@pytest.fixture(scope="module")
def arithmetic_chat(tmp_path_factory) -> Path:
    """A tiny arithmetic chat run: 30 steps on the task's text, 20 on its conversations."""
    from support.tinyrun import tiny_config

    from glassgpt.tasks import arithmetic
    from glassgpt.training.launch import train

    root = tmp_path_factory.mktemp("arith")
    cfg = tiny_config({"model.block_size": 32}, max_steps=30, eval_every=0)
    train(root / "base", config=cfg, text=arithmetic.corpus(3000))
    finetune(root / "base", "arithmetic", root / "chat", max_steps=20, batch_size=8, eval_every=0, transcript=0)
    return root / "chat"


def test_the_worked_rl_step_moves_the_rewarded_completion_up(arithmetic_chat, monkeypatch):
    from glassgpt.data import rewards
    from glassgpt.stages.rl import worked_step

    monkeypatch.setattr(rewards.TaskReward, "__call__", lambda self, p, i, c, t: np.eye(len(t), dtype=np.float32)[0])
    step = worked_step(arithmetic_chat, "305-48=", group_size=4, lr=1e-2)
    completions = step["completions"]
    assert [c["reward"] for c in completions] == [1.0, 0.0, 0.0, 0.0]
    assert [c["advantage"] for c in completions] == pytest.approx([0.75, -0.25, -0.25, -0.25])
    moved = [sum(t["logp_after"] - t["logp_before"] for t in c["tokens"]) for c in completions]
    assert moved[0] > 0 and moved[0] > max(moved[1:])
    monkeypatch.setattr(rewards.TaskReward, "__call__", lambda self, p, i, c, t: np.zeros(len(t), dtype=np.float32))
    still = worked_step(arithmetic_chat, "305-48=", group_size=4, lr=1e-2)["completions"]
    assert all(t["logp_after"] == t["logp_before"] for c in still for t in c["tokens"])  # no advantage, no step
