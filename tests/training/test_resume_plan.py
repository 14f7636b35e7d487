"""What a resume means and records, losses named after what they measured, and the start-up
header: the promises of the README's training section."""

from __future__ import annotations

import json
import math

import pytest
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.cli import main
from glassgpt.config import RunConfig, resolve
from glassgpt.data.text_source import describe
from glassgpt.errors import ConfigError
from glassgpt.report.html import evaluation_section, summary_cards
from glassgpt.report.rundata import RunData
from glassgpt.rundir import read_config_dict, read_metrics
from glassgpt.rundir.loss_names import final_loss
from glassgpt.training.header import header_lines, plan_warnings
from glassgpt.training.launch import train
from glassgpt.training.schedule import learning_rate


def plan(steps: int, **train_settings) -> RunConfig:
    settings = dict(warmup_steps=2, log_every=1, eval_every=0, save_every=100) | train_settings
    cfg = tiny_config(max_steps=steps, **settings)
    cfg = cfg.updated({"model.n_layer": 1, "model.n_embd": 16})
    return cfg


def lrs(run) -> dict[int, float]:
    return {r["step"]: r["lr"] for r in read_metrics(run) if "lr" in r}


def test_a_longer_resume_keeps_the_decay_the_run_started_with(tmp_path):
    train(tmp_path / "ten", config=plan(10), text=TINY_TEXT)  # one go of 10 steps: the reference plan
    train(tmp_path / "r", config=plan(10), text=TINY_TEXT)
    result = train(tmp_path / "r", overrides={"train.max_steps": 20}, resume=True)
    assert result.steps == 20
    got, ten = lrs(tmp_path / "r"), lrs(tmp_path / "ten")
    assert all(got[s] == ten[s] for s in range(1, 11))  # no planned step changed its rate
    floor = 3e-3 * 0.1
    assert all(got[s] == pytest.approx(floor) for s in range(11, 21))  # the extra steps train at the floor
    assert got[11] == learning_rate(10, 3e-3, 2, 10, 0.1, "cosine")
    cfg = read_config_dict(tmp_path / "r")
    assert cfg["train"]["max_steps"] == 20 and cfg["train"]["decay_steps"] == 10
    [record] = cfg["resumes"]
    assert record["step"] == 10 and record["changed"] == {"train.max_steps": [10, 20], "train.decay_steps": [0, 10]}
    assert record["time"].endswith("+00:00")


def test_setting_decay_steps_replans_the_decay(tmp_path):
    train(tmp_path / "r", config=plan(10), text=TINY_TEXT)
    train(tmp_path / "r", overrides={"train.max_steps": 20, "train.decay_steps": 20}, resume=True)
    got = lrs(tmp_path / "r")
    assert got[11] == pytest.approx(learning_rate(10, 3e-3, 2, 20, 0.1, "cosine")) and got[11] > 3e-3 * 0.1 * 1.5
    assert got[20] < got[11]


def test_every_resume_is_recorded(tmp_path):
    train(tmp_path / "r", config=plan(4), text=TINY_TEXT)
    train(tmp_path / "r", overrides={"train.max_steps": 6}, resume=True)
    train(tmp_path / "r", overrides={"train.max_steps": 8, "train.lr": 1e-3}, resume=True)
    resumes = read_config_dict(tmp_path / "r")["resumes"]
    assert [r["step"] for r in resumes] == [4, 6]
    assert resumes[1]["changed"] == {"train.max_steps": [6, 8], "train.lr": [3e-3, 1e-3]}
    assert list(RunConfig.from_dict(read_config_dict(tmp_path / "r")).resumes) == resumes  # config.json still loads


def test_resume_compares_the_text_not_the_spelling_of_its_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text(TINY_TEXT)
    cfg = plan(4)
    cfg = cfg.updated({"data.path": "notes.txt"})
    train(tmp_path / "r", config=cfg)
    result = train(
        tmp_path / "r", overrides={"train.max_steps": 6, "data.path": str(tmp_path / "notes.txt")}, resume=True
    )
    assert result.steps == 6 and read_config_dict(tmp_path / "r")["data"]["path"] == "notes.txt"
    (tmp_path / "other.txt").write_text(TINY_TEXT.replace("dog", "cat"))
    with pytest.raises(ConfigError, match="the text differs from the one it was trained on"):
        train(tmp_path / "r", overrides={"train.max_steps": 8, "data.path": "other.txt"}, resume=True)


def test_a_finished_run_needs_a_larger_max_steps(tmp_path):
    train(tmp_path / "r", config=plan(4), text=TINY_TEXT)
    before = (tmp_path / "r" / "metrics.jsonl").read_bytes()
    with pytest.raises(ConfigError, match="already at step 4 and train.max_steps is 4; pass a larger --max-steps"):
        train(tmp_path / "r", resume=True)
    assert (tmp_path / "r" / "metrics.jsonl").read_bytes() == before


# ---- losses named after what they measured ----------------------------------------------------------
def test_a_run_without_a_validation_split_says_training_loss(tmp_path, capsys):
    cfg = plan(6, eval_every=3)
    cfg = cfg.updated({"data.val_fraction": 0.0})
    result = train(tmp_path / "r", config=cfg, text=TINY_TEXT)
    assert result.final["split"] == "train" and "val_loss" not in result.final
    assert result.final["train_loss"] == result.final["loss"] and math.isfinite(result.final["loss"])
    estimates = [r for r in read_metrics(tmp_path / "r") if "train_eval_loss" in r]
    assert [r["step"] for r in estimates] == [3, 6] and not any("val_loss" in r for r in read_metrics(tmp_path / "r"))
    assert main(["eval", str(tmp_path / "r"), "--quiet"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["split"] == "train" and "val_loss" not in evaluated
    assert evaluated["train_loss"] == pytest.approx(result.final["loss"], rel=1e-5)
    run = RunData(tmp_path / "r")
    assert "final train loss" in summary_cards(run, None) and "mean train loss" in evaluation_section(run)


def test_old_runs_that_called_a_training_loss_val_loss_still_read_right():
    old = {"split": "train", "val_loss": 0.25, "perplexity": 1.28}
    assert final_loss(old) == ("train", 0.25)
    assert final_loss({"split": "val", "val_loss": 1.5}) == ("val", 1.5)
    assert final_loss({}) == ("val", None)


# ---- the start-up header and the plan's warnings ----------------------------------------------------
def test_a_run_shorter_than_its_warmup_warns():
    cfg = plan(50)
    cfg = cfg.updated({"train.warmup_steps": 100, "train.lr": 1e-3})
    [warning] = plan_warnings(cfg)
    assert "ends at step 50, before its 100 warmup steps are over" in warning
    assert "peaks at 0.0005 and never reaches train.lr = 0.001" in warning
    assert plan_warnings(plan(50)) == []


def test_a_resume_past_the_decay_says_which_steps_train_at_the_floor():
    cfg = plan(20)
    cfg = cfg.updated({"train.decay_steps": 10})
    [note] = plan_warnings(cfg, start_step=12)
    assert "decay ends at step 10, so steps 12–20 train at the floor rate 0.0003" in note
    assert "--set train.decay_steps=20" in note
    cfg = cfg.updated({"train.schedule": "constant"})
    assert plan_warnings(cfg, start_step=12) == []


class Tok:
    """A tokenizer as far as the header reads one."""

    vocab_size = 30


class Data:
    """A data source as far as the header reads one: its own line, and the tokenizer."""

    def __init__(self, cfg, meta):
        self.description, self.tokenizer = describe(cfg, meta), Tok()


def test_the_header_says_what_will_end_the_run(tmp_path):
    cfg = plan(900).updated({"preset": "baby", "train.time_budget": 210.0, "model.vocab_size": 30})
    meta = {"train_tokens": 4428, "val_tokens": 492, "text_chars": 4920}
    lines = header_lines(cfg, tmp_path / "r", Data(cfg, meta), "cpu", 2, 0, False)
    text = "\n".join(lines)
    assert lines[0] == f"glassgpt train → {tmp_path / 'r'} (new run)"
    assert "1 layer, 2 heads, width 16, context 16" in text and "cpu · 2 threads · float32 · torch engine" in text
    assert "4,920 characters → 4,428 train + 492 val tokens" in text and "char · 30 ids" in text
    assert "step 900, or the 3:30 time budget if that comes first" in text
    resumed = header_lines(cfg, tmp_path / "r", Data(cfg, {"train_tokens": 10, "val_tokens": 0}), "cpu", 1, 300, True)
    assert "(resuming at step 300)" in resumed[0] and "10 tokens, no validation split" in "\n".join(resumed)


def test_a_time_clock_header_says_the_decay_follows_the_budget(tmp_path):
    cfg = resolve("cpu-speedrun", overrides={"model.vocab_size": 30})
    text = "\n".join(
        header_lines(cfg, tmp_path / "r", Data(cfg, {"train_tokens": 10, "val_tokens": 2}), "cpu", 2, 0, False)
    )
    assert "wsd decay to 0 over the last 50% of the time budget" in text and "at step 1,000,000" not in text
    assert "step 1,000,000, or the 1:34 time budget if that comes first" in text


def test_train_prints_the_header_before_step_one(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--data",
                str(_text(tmp_path)),
                "--out",
                str(tmp_path / "r"),
                "--max-steps",
                "3",
                "--set",
                "model.n_layer=1",
                "--set",
                "model.n_embd=16",
                "--set",
                "model.n_head=2",
                "--set",
                "model.block_size=16",
                "--set",
                "train.batch_size=4",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.startswith(f"glassgpt train → {tmp_path / 'r'} (new run)\n  model ")
    assert "warning: the run ends at step 3, before its 100 warmup steps are over" in err
    assert "trained to step 3 in" in err and "(max steps)" in err


def _text(tmp_path):
    f = tmp_path / "text.txt"
    f.write_text(TINY_TEXT)
    return f
