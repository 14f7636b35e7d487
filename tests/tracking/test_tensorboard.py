"""--log tensorboard: the event files hold what metrics.jsonl holds, step for step, and a
resumed run continues the same folder, hiding what a killed session logged past its checkpoint."""

from __future__ import annotations

import json

import pytest
from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.rundir import read_metrics

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed (pip install -e '.[tensorboard]')")


def events(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    reader.Reload()
    scalars = {tag: {e.step: e.value for e in reader.Scalars(tag)} for tag in reader.Tags()["scalars"]}
    texts = {
        tag.split("/")[0]: {e.step: e.tensor_proto.string_val[0].decode() for e in reader.Tensors(tag)}
        for tag in reader.Tags()["tensors"]
    }
    return scalars, texts


def by_step(records, key):
    return {r["step"]: r[key] for r in records if key in r}


def test_the_events_hold_the_metrics_the_config_the_samples_and_the_final_evaluation(tmp_path):
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=20), text=TINY_TEXT, report=False, log="tensorboard")
    scalars, texts = events(out / "tensorboard")
    metrics = read_metrics(out)
    for key in ("train_loss", "val_loss", "lr", "grad_norm", "tokens", "tokens_per_sec"):
        expected = by_step(metrics, key)
        assert expected and scalars[key].keys() == expected.keys(), key
        for step, value in expected.items():  # TensorBoard keeps float32
            assert scalars[key][step] == pytest.approx(value, rel=1e-6), (key, step)
    summary = json.loads((out / "summary.json").read_text())
    assert scalars["final/loss"] == {20: pytest.approx(summary["final"]["loss"], rel=1e-6)}
    assert scalars["final/perplexity"][20] == pytest.approx(summary["final"]["perplexity"], rel=1e-6)
    assert '"max_steps": 20' in texts["config"][0]
    assert summary["sample"].split("\n")[0] in texts["samples"][20]
    assert json.loads((out / "trackers.json").read_text()) == {"tensorboard": {"log_dir": "tensorboard"}}


def test_a_resumed_run_continues_the_folder_without_a_killed_sessions_steps(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    out = tmp_path / "run"
    glassgpt.train(
        out, config=tiny_config(max_steps=20, save_every=10), text=TINY_TEXT, report=False, log="tensorboard"
    )
    killed = SummaryWriter(str(out / "tensorboard"))  # what a session killed after its checkpoint had logged
    for step in (25, 30):
        killed.add_scalar("train_loss", 999.0, step)
    killed.close()
    # no --log: a resumed run logs to the trackers of trackers.json
    glassgpt.train(out, resume=True, overrides={"train.max_steps": 40}, report=False)
    scalars, _ = events(out / "tensorboard")
    expected = by_step(read_metrics(out), "train_loss")
    assert max(expected) == 40 and scalars["train_loss"].keys() == expected.keys()
    assert all(scalars["train_loss"][s] == pytest.approx(v, rel=1e-6) for s, v in expected.items())
    assert len(list((out / "tensorboard").glob("events.out.tfevents.*"))) == 3


def test_log_none_leaves_a_resumed_run_without_its_tracker(tmp_path):
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=10), text=TINY_TEXT, report=False, log="tensorboard")
    before = sorted(p.name for p in (out / "tensorboard").iterdir())
    glassgpt.train(out, resume=True, overrides={"train.max_steps": 20}, report=False, log="none")
    assert sorted(p.name for p in (out / "tensorboard").iterdir()) == before
    assert max(r["step"] for r in read_metrics(out)) == 20
