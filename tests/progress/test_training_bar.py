"""TrainingBar: the trainer's row (steps, loss, tok/s, time left) and its one-time
note that the time budget will end the run before max_steps."""

from __future__ import annotations

import pytest

from glassgpt import progress
from glassgpt.progress import TrainingBar


def test_the_training_bar_ends_at_the_budget_when_it_comes_first(capsys, clock):
    bar = TrainingBar(total=1000, done=0, time_budget=60.0)
    clock.now += 10
    bar.update(100, loss=2.0, tokens_per_sec=1000.0)  # 10 steps/s: 1000 steps need 100 s > 60 s
    assert bar.time_left(100) == (pytest.approx(50.0), True)
    assert bar.task.time_text() == "50.0 s left (budget)"
    assert "will end this run near step 600 of 1,000" in capsys.readouterr().err
    no_budget = TrainingBar(total=1000, done=0)
    clock.now += 10
    no_budget.update(500, loss=2.0, tokens_per_sec=1000.0)
    assert no_budget.time_left(500) == (pytest.approx(10.0), False)
    bar.close()
    no_budget.close()


def test_the_row_reads_steps_loss_tokens_per_second_and_time_left(capsys, clock):
    bar = TrainingBar(total=1000, done=0)
    assert bar.task.line() == "0/1,000 · 0.0 s"  # no step yet: the time so far
    clock.now += 10
    bar.update(100, loss=2.0, tokens_per_sec=1000.0)  # 10 steps/s: 900 left take 90 s
    assert bar.task.line() == "100/1,000 · loss 2.0000 · 1k tok/s · 1:30 left"
    assert capsys.readouterr().err == "train: 100/1,000 · loss 2.0000 · 1k tok/s · 1:30 left\n"  # the first log line
    clock.now += 5
    bar.update(150, loss=1.5, tokens_per_sec=2000.0)  # tokens/s smoothed: 0.9 * 1000 + 0.1 * 2000
    assert bar.task.line() == "150/1,000 · loss 1.5000 · 1.1k tok/s · 1:25 left"
    assert capsys.readouterr().err == ""  # the next log line comes PLAIN_EVERY after the first
    clock.now += progress.PLAIN_EVERY - 5
    bar.update(200, loss=1.25, tokens_per_sec=1100.0)
    assert capsys.readouterr().err == "train: 200/1,000 · loss 1.2500 · 1.1k tok/s · 1:20 left\n"
    bar.close()
    assert capsys.readouterr() == ("", "")  # the trainer says how training ended, not the bar


def test_the_budget_note_comes_once_with_the_step_the_budget_reaches(capsys, clock):
    bar = TrainingBar(total=2000, done=400, time_budget=60.0)  # resumed at step 400
    clock.now += 1
    bar.update(405, loss=3.0, tokens_per_sec=500.0)
    assert capsys.readouterr().err == ""  # too early to tell (under 10 steps, 2 s)
    clock.now += 9
    bar.update(500, loss=2.5, tokens_per_sec=500.0)  # 10 steps/s since the resume: 60 s reach step 1,000
    assert bar.time_left(500) == (pytest.approx(50.0), True)
    err = capsys.readouterr().err
    note = "the 1:00 time budget will end this run near step 1,000 of 2,000 (10.00 steps/s)\n"
    assert err.endswith(note) and err.count("time budget") == 1
    assert "500/2,000 · loss 2.5000 · 500 tok/s · 50.0 s left (budget)" in err  # the log line
    for step in (600, 700, 800):
        clock.now += progress.PLAIN_EVERY
        bar.update(step, loss=2.0, tokens_per_sec=500.0)
    assert "time budget" not in capsys.readouterr().err  # said once
    bar.close()


def test_no_note_when_the_steps_end_first_and_nothing_when_disabled(capsys, clock):
    bar = TrainingBar(total=200, done=0, time_budget=600.0)
    clock.now += 10
    bar.update(100, loss=2.0, tokens_per_sec=1000.0)  # 100 s more < 590 s of budget
    assert bar.time_left(100) == (pytest.approx(10.0), False)
    assert "time budget" not in capsys.readouterr().err
    bar.close()
    quiet = TrainingBar(total=1000, done=0, enabled=False, time_budget=60.0)
    clock.now += 10
    quiet.update(100, loss=2.0, tokens_per_sec=1000.0)
    quiet.note("a note")
    quiet.close()
    assert quiet.warned_budget and capsys.readouterr() == ("", "")
