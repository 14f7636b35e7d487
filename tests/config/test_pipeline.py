"""The configuration pipeline: resolve -> derive -> validate, and then nothing changes it.

A run's ``config.json`` is exactly the frozen configuration it trained with, every value a
run computes is filled in by ``derive`` and nowhere else, and the same command run again with
``--resume`` continues the run (equal options are accepted, a conflicting one is refused
naming the stored value).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.cli import main
from glassgpt.config import DataFacts, RunConfig, derive, resolve
from glassgpt.config.schema import DERIVED, SECTIONS
from glassgpt.errors import ConfigError
from glassgpt.training.launch import train


def test_a_resolved_config_is_frozen_all_the_way_down():
    cfg = resolve("baby")
    for target, name in ((cfg, "preset"), (cfg.model, "n_layer"), (cfg.data, "tokenizer"), (cfg.train, "lr")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(target, name, getattr(target, name))
    assert isinstance(cfg.train.sample_prompts, tuple) and isinstance(cfg.data.files, tuple)
    changed = cfg.updated({"train.lr": "3e-4", "model.n_layer": 2})
    assert (changed.train.lr, changed.model.n_layer) == (3e-4, 2) and (cfg.train.lr, cfg.model.n_layer) == (2e-3, 4)


def test_derive_fills_in_every_derived_value_and_only_those():
    cfg = resolve("baby", overrides={"train.tokens_per_step": 4096, "train.batch_size": 16})
    out = derive(cfg, DataFacts(vocab_size=65), processes=2)
    assert out.model.vocab_size == 65 and out.train.grad_accum == 4096 // (16 * 64 * 2) and out.kind == "gpt"
    corpus = derive(cfg, DataFacts(vocab_size=100277, kind="corpus", tokenizer="cl100k", fingerprint="ab" * 8))
    assert (corpus.data.kind, corpus.data.tokenizer, corpus.data.fingerprint, corpus.data.corpus) == (
        "corpus",
        "cl100k",
        "ab" * 8,
        "",
    )
    changed = {
        f"{s}.{k}"
        for s in SECTIONS
        for k, v in dataclasses.asdict(getattr(out, s)).items()
        if v != dataclasses.asdict(getattr(cfg, s))[k]
    }
    assert changed == {"model.vocab_size", "train.grad_accum"} and DERIVED <= {
        "model.vocab_size",
        "data.fingerprint",
    }


def test_a_longer_resume_keeps_the_decay_it_was_planned_with():
    stored = derive(tiny_config(max_steps=10), DataFacts(vocab_size=30))
    longer = stored.updated({"train.max_steps": 20})
    assert derive(longer, DataFacts(vocab_size=30), stored=stored).train.decay_steps == 10
    replanned = stored.updated({"train.max_steps": 20, "train.decay_steps": 20})
    assert derive(replanned, DataFacts(vocab_size=30), stored=stored).train.decay_steps == 20


def test_config_json_is_exactly_the_frozen_config_the_run_trained_with(tmp_path):
    result = train(tmp_path / "r", config=tiny_config(max_steps=3, eval_every=0), text=TINY_TEXT)
    stored = json.loads((tmp_path / "r" / "config.json").read_text())
    assert RunConfig.from_dict(stored) == result.config and stored == result.config.to_dict()
    assert result.config.model.vocab_size == 30 and stored["kind"] == "gpt"
    resumed = train(tmp_path / "r", overrides={"train.max_steps": 5}, resume=True)
    stored = json.loads((tmp_path / "r" / "config.json").read_text())
    assert RunConfig.from_dict(stored) == resumed.config and len(resumed.config.resumes) == 1


def test_the_same_command_again_with_resume_appended_continues_the_run(tmp_path, capsys):
    text_file = tmp_path / "text.txt"
    text_file.write_text(TINY_TEXT, encoding="utf-8")
    command = [
        "train",
        "--data",
        str(text_file),
        "--out",
        str(tmp_path / "r"),
        "--preset",
        "baby",
        "--set",
        "model.n_layer=1",
        "--set",
        "model.n_embd=16",
        "--set",
        "model.block_size=16",
        "--set",
        "train.batch_size=4",
        "--set",
        "train.eval_every=0",
        "--threads",
        "1",
        "--quiet",
    ]
    assert main([*command, "--max-steps", "2"]) == 0
    assert main([*command, "--max-steps", "4", "--resume"]) == 0
    assert json.loads((tmp_path / "r" / "state" / "trainer.json").read_text())["step"] == 4
    capsys.readouterr()
    assert main([*command, "--max-steps", "6", "--resume", "--set", "model.n_embd=32"]) == 2
    err = capsys.readouterr().err
    assert "--resume cannot change model.n_embd" in err and "was trained with 16 and this command gives 32" in err
    assert main([*command, "--max-steps", "6", "--resume", "--preset", "small"]) == 2
    assert "was trained with the preset 'baby', not 'small'" in capsys.readouterr().err


def test_a_bad_override_names_the_key_and_changes_nothing():
    with pytest.raises(ConfigError, match="train.lr must be a number"):
        resolve("baby", overrides={"train.lr": "fast"})
    with pytest.raises(ConfigError, match=r"unknown config key 'train.learning_rate' \(did you mean 'train.lr'\?\)"):
        resolve("baby", overrides={"train.learning_rate": 1e-3})
