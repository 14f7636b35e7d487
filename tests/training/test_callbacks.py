"""The training loop's listeners: each hears the run's start, every metrics record (the ones
metrics.jsonl gets), the samples and the end, in that order; a function of a record still works."""

from __future__ import annotations

import json

from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.rundir import read_metrics, read_records
from glassgpt.training.callbacks import Callback, Callbacks, RecordFunction


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def start(self, run):
        self.events.append(("start", run.run_dir, run.step, run.resumed, run.config.train.max_steps))

    def record(self, record):
        self.events.append(("record", dict(record)))

    def samples(self, step, pairs):
        self.events.append(("samples", step, list(pairs)))

    def end(self, summary):
        self.events.append(("end", summary))


def test_a_listener_hears_the_start_every_record_the_samples_and_the_end(tmp_path):
    out, heard, seen = tmp_path / "run", Recorder(), []
    cfg = tiny_config(max_steps=20, save_every=10, sample_every=10, sample_prompts=("the ",), sample_tokens=8)
    glassgpt.train(out, config=cfg, text=TINY_TEXT, report=False, callbacks=[heard, seen.append])
    kinds = [event[0] for event in heard.events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("start") == kinds.count("end") == 1
    assert heard.events[0] == ("start", out, 0, False, 20)
    assert [e[1] for e in heard.events if e[0] == "record"] == read_metrics(out) == seen
    samples = [(e[1], e[2]) for e in heard.events if e[0] == "samples"]
    logged = read_records(out / "samples.jsonl")
    assert samples == [(r["step"], [(r["prompt"], r["text"])]) for r in logged] and [s for s, _ in samples] == [10, 20]
    assert heard.events[-1][1] == json.loads((out / "summary.json").read_text())


def test_a_resumed_session_starts_at_its_checkpoint(tmp_path):
    out = tmp_path / "run"
    glassgpt.train(out, config=tiny_config(max_steps=20, save_every=10), text=TINY_TEXT, report=False)
    heard = Recorder()
    glassgpt.train(out, resume=True, overrides={"train.max_steps": 30}, report=False, callbacks=[heard])
    assert heard.events[0][2:4] == (20, True)
    assert [e[1]["step"] for e in heard.events if e[0] == "record"] == [25, 30]


def test_callbacks_call_each_in_order_and_wrap_functions():
    calls = []
    group = Callbacks([calls.append, RecordFunction(lambda r: calls.append(("second", r)))])
    group.record({"step": 1})
    group.samples(1, [])  # a function of a record hears only records
    assert calls == [{"step": 1}, ("second", {"step": 1})]
