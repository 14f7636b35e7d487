"""--log wandb, offline and without the network: the W&B files hold the metrics of
metrics.jsonl, the config, the final samples as a table, the report and the final evaluation;
a resumed run continues the same W&B run; with no W&B login it goes offline by itself."""

from __future__ import annotations

import json

import pytest
from support.tinyrun import TINY_TEXT, tiny_config
from support.wandb_files import offline_runs

import glassgpt
from glassgpt.rundir import read_metrics

pytest.importorskip("wandb", reason="the wandb extra is not installed (pip install -e '.[wandb]')")


@pytest.fixture
def no_login(monkeypatch, tmp_path):
    """No W&B key anywhere this test can see, and no W&B settings from the machine."""
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_PROJECT", "WANDB_BASE_URL", "WANDB_DIR"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("")
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))


@pytest.fixture
def offline(no_login, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")


def logged(history, key):
    return {row["step"]: row[key] for row in history if key in row}


def test_the_offline_run_holds_the_metrics_config_samples_report_and_final_evaluation(tmp_path, offline, monkeypatch):
    monkeypatch.setenv("GLASSGPT_REPORT", "1")  # the report is logged too
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=20), text=TINY_TEXT, log="wandb")
    (run,) = offline_runs(out)
    stored = json.loads((out / "trackers.json").read_text())["wandb"]
    assert run.run_id == stored["id"] and stored["project"] == "glassgpt"
    assert run.config["train"]["max_steps"] == 20 and run.config["preset"] == "test"
    metrics = read_metrics(out)
    for key in ("train_loss", "val_loss", "lr", "grad_norm", "tokens"):
        expected = {r["step"]: r[key] for r in metrics if key in r}
        assert expected and logged(run.history, key) == expected, key  # JSON both ways: exact
    summary = json.loads((out / "summary.json").read_text())
    assert run.summary["final/loss"] == summary["final"]["loss"]
    (table,) = run.media("table")
    rows = json.loads(table.read_text())
    assert rows["columns"] == ["step", "prompt", "text"]
    assert [row[2] for row in rows["data"]] == summary["samples"] and {row[0] for row in rows["data"]} == {20}
    (page,) = run.media("html")
    assert "report" in page.name and summary["sample"][:20] in page.read_text()


def test_a_resumed_run_continues_the_same_wandb_run(tmp_path, offline):
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=20), text=TINY_TEXT, report=False, log="wandb")
    glassgpt.train(out, resume=True, overrides={"train.max_steps": 30}, report=False)  # trackers.json: wandb
    first, second = offline_runs(out)
    assert first.run_id == second.run_id == json.loads((out / "trackers.json").read_text())["wandb"]["id"]
    metrics = {r["step"]: r["train_loss"] for r in read_metrics(out) if "train_loss" in r}
    assert logged(first.history, "train_loss") == {s: v for s, v in metrics.items() if s <= 20}
    assert logged(second.history, "train_loss") == {s: v for s, v in metrics.items() if s > 20}


def test_without_a_login_it_logs_offline_and_says_how_to_upload(tmp_path, no_login, capsys):
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=5), text=TINY_TEXT, report=False, log=["wandb"])
    (run,) = offline_runs(out)
    assert logged(run.history, "train_loss") == {5: read_metrics(out)[-1]["train_loss"]}
    err = capsys.readouterr().err
    assert "W&B logs offline" in err and f"wandb sync {out / 'wandb'}/offline-run-*" in err


def test_a_wandb_that_cannot_start_is_one_sentence(tmp_path, offline, monkeypatch, capsys):
    import wandb

    from glassgpt.cli import main

    def refuse(**_):
        raise RuntimeError("api_key not configured (no-tty)")

    monkeypatch.setattr(wandb, "init", refuse)
    text = tmp_path / "text.txt"
    text.write_text(TINY_TEXT)
    args = [
        "train",
        "--data",
        str(text),
        "--out",
        str(tmp_path / "run"),
        "--max-steps",
        "3",
        "--quiet",
        "--log",
        "wandb",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(
        "error: W&B could not start its run (RuntimeError: api_key not configured (no-tty)); set WANDB_MODE=offline"
    )
