"""Every bad input of the stages after fine-tuning is one sentence and exit status 2, and the runs
it named are unchanged, the new run never made: malformed pairs, chosen identical to rejected, an
empty completion, a reward model with another tokenizer, --reward on a run that is not a reward
model, G < 2, β < 0 or NaN, a prompt longer than the context, a LoRA rank of 0 or above the width,
LoRA on the glass engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.chatrun import QA, tree_digest, write_sft
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.cli import main
from glassgpt.stages.finetune import finetune
from glassgpt.stages.reward import train_reward_model
from glassgpt.training.launch import train

PAIR = {"prompt": QA[0][0], "chosen": QA[0][1], "rejected": QA[1][1]}


def lines(path: Path, *records) -> Path:
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def made(chat, tmp_path_factory) -> dict[str, Path]:
    """A reward model of the chat run, and one of another chat run whose tokenizer has one more letter."""
    root = tmp_path_factory.mktemp("bad")
    pairs = lines(root / "pairs.jsonl", *[PAIR] * 8)
    train_reward_model(chat, pairs, root / "rm", max_steps=2, batch_size=4, eval_every=0)
    other = root / "other-base"
    train(other, config=tiny_config({"model.block_size": 48}, max_steps=2, eval_every=0), text=TINY_TEXT + "X\n")
    finetune(other, write_sft(root / "sft.jsonl"), root / "other-chat", max_steps=2, batch_size=4, transcript=0)
    train_reward_model(root / "other-chat", pairs, root / "other-rm", max_steps=2, batch_size=4, eval_every=0)
    return {"root": root, "pairs": pairs, "rm": root / "rm", "other-rm": root / "other-rm"}


def refused(argv: list[str], capsys, *runs: Path) -> str:
    """Run the CLI; it must exit 2 with one line and leave ``runs`` as they were; returns the line."""
    before = [tree_digest(r) for r in runs]
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), (code, err)
    assert [tree_digest(r) for r in runs] == before
    return err[0]


CASES = {
    "not json": ('{"prompt": "the quick", "chosen": "brown fox."\n', "is not valid JSON"),
    "no chosen": ({"prompt": "the quick", "rejected": "dog."}, 'needs "chosen" as text'),
    "no prompt": ({"chosen": "a", "rejected": "b"}, 'has no "prompt" (text) or "messages"'),
    "identical": ({**PAIR, "rejected": PAIR["chosen"]}, "chosen and rejected are the same completion"),
    "empty": ({**PAIR, "rejected": "  "}, "the rejected completion is empty"),
}


@pytest.mark.parametrize("command", ["reward", "dpo"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_pairs(chat, tmp_path, capsys, command, case):
    record, words = CASES[case]
    pairs = lines(tmp_path / "pairs.jsonl", PAIR, record)
    line = refused([command, chat, "--pairs", pairs, "--out", tmp_path / "new"], capsys, chat)
    assert words in line and "pairs.jsonl line 2" in line
    assert not (tmp_path / "new").exists()


def test_an_empty_pairs_file(chat, tmp_path, capsys):
    line = refused(["dpo", chat, "--pairs", lines(tmp_path / "p.jsonl", "\n"), "--out", tmp_path / "new"], capsys, chat)
    assert "is empty" in line


def test_a_reward_model_with_another_tokenizer(chat, made, tmp_path, capsys):
    prompts = lines(tmp_path / "prompts.jsonl", {"prompt": "the quick"})
    argv = ["rl", chat, "--reward", made["other-rm"], "--prompts", prompts, "--out", tmp_path / "new"]
    assert "reads another tokenizer than the policy's" in refused(argv, capsys, chat, made["other-rm"])


def test_reward_must_name_a_reward_model(chat, tmp_path, capsys):
    prompts = lines(tmp_path / "prompts.jsonl", {"prompt": "the quick"})
    line = refused(["rl", chat, "--reward", chat, "--prompts", prompts, "--out", tmp_path / "new"], capsys, chat)
    assert "`glassgpt rl --reward` does not work on" in line and "takes a reward model run" in line


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--group-size", "1"], "train.group_size (G) must be at least 2"),
        (["--kl-beta", "-0.5"], "train.kl_beta (β) must be 0 or more"),
        (["--kl-beta", "nan"], "train.kl_beta must be a finite number"),
        (["--lora", "0"], "--lora is the adapters' rank and must be at least 1, got 0"),
        (["--lora", "64"], "model.lora_rank (--lora) must be from 1 to the width model.n_embd (32)"),
    ],
)
def test_impossible_rl_settings(chat, made, tmp_path, capsys, extra, words):
    prompts = lines(tmp_path / "prompts.jsonl", {"prompt": "the quick"})
    argv = ["rl", chat, "--reward", made["rm"], "--prompts", prompts, "--out", tmp_path / "new", *extra]
    assert words in refused(argv, capsys, chat, made["rm"])
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "beta, words", [("-0.1", "train.dpo_beta (β) must be 0 or more"), ("nan", "train.dpo_beta must be a finite number")]
)
def test_impossible_dpo_beta(chat, made, tmp_path, capsys, beta, words):
    argv = ["dpo", chat, "--pairs", made["pairs"], "--out", tmp_path / "new", "--beta", beta]
    assert words in refused(argv, capsys, chat)


@pytest.mark.parametrize(
    "alpha, words", [("-1", "train.dpo_nll (α) must be 0 or more"), ("nan", "train.dpo_nll must be a finite number")]
)
def test_impossible_dpo_nll(chat, made, tmp_path, capsys, alpha, words):
    argv = ["dpo", chat, "--pairs", made["pairs"], "--out", tmp_path / "new", "--nll", alpha]
    assert words in refused(argv, capsys, chat)
    assert not (tmp_path / "new").exists()


def test_a_prompt_longer_than_the_context(chat, made, tmp_path, capsys):
    long = "the quick brown fox jumps over the lazy dog " * 2
    prompts = lines(tmp_path / "prompts.jsonl", {"prompt": "the quick"}, {"prompt": long})
    argv = ["rl", chat, "--reward", made["rm"], "--prompts", prompts, "--out", tmp_path / "new"]
    line = refused(argv, capsys, chat, made["rm"])
    assert "prompts.jsonl line 2" in line and "longer than the model's context of 48" in line


def test_rl_needs_a_reward_and_prompts(chat, tmp_path, capsys):
    assert "RL needs a reward" in refused(["rl", chat, "--out", tmp_path / "new"], capsys, chat)
    line = refused(["rl", chat, "--reward", chat, "--out", tmp_path / "new"], capsys, chat)
    assert "RL needs prompts" in line


def test_lora_on_the_glass_engine(tmp_path, capsys):
    data = tmp_path / "t.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    argv = ["train", "--data", data, "--out", tmp_path / "new", "--engine", "glass", "--set", "model.lora_rank=4"]
    assert "the glass engine has no hand-written gradients for model.lora_rank (LoRA adapters)" in refused(argv, capsys)
    assert not (tmp_path / "new").exists()


def test_lora_rank_on_finetune(base, tmp_path, capsys):
    sft = write_sft(tmp_path / "sft.jsonl")
    line = refused(["finetune", base, "--sft", sft, "--out", tmp_path / "new", "--lora", "0"], capsys, base)
    assert "--lora is the adapters' rank and must be at least 1, got 0" in line
