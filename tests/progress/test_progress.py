"""glassgpt.progress: tasks on a terminal or as plain lines (moved from
tests/foundation/test_progress_terminal.py)."""

from __future__ import annotations

import pytest

from glassgpt import progress
from glassgpt.progress import Task, duration, hms, rate, task


def test_plain_lines_come_after_a_pause_then_every_interval(capsys, clock):
    with task("final evaluation", total=100) as t:
        t.advance(10)
        assert capsys.readouterr().err == ""  # quick so far: nothing printed
        clock.now += progress.PLAIN_FIRST
        t.advance(10)
        first = capsys.readouterr().err
        assert first.startswith("final evaluation: 20/100 · ") and first.endswith(" left\n")
        clock.now += 1
        t.advance(10)
        assert capsys.readouterr().err == ""  # not before the next interval
        clock.now += progress.PLAIN_EVERY
        t.advance(10, detail="batch 40")
        assert "40/100 · batch 40 · " in capsys.readouterr().err
    captured = capsys.readouterr()
    assert (
        captured.err
        == f"final evaluation: done in {duration(progress.PLAIN_FIRST + 1 + progress.PLAIN_EVERY)} (batch 40)\n"
    )
    assert captured.out == ""  # everything on stderr


def test_time_left_is_the_rate_or_what_the_caller_knows(clock):
    t = Task("x", total=100, enabled=False)
    assert t.time_text() == "0.0 s"  # nothing done: time so far
    clock.now += 10
    t.update(25)
    assert t.remaining() == pytest.approx(30.0) and t.time_text() == "30.0 s left"
    t.update(eta=5.0, eta_note="budget")
    assert t.time_text() == "5.0 s left (budget)"


def test_work_done_before_the_task_started_does_not_count_in_the_rate(clock):
    t = Task("resumed", total=100, done=50, enabled=False)
    assert t.count_text() == "50/100" and t.remaining() is None  # nothing done by this task yet
    clock.now += 10
    t.update(60)  # 10 in 10 s: the 40 left take 40 s
    assert t.remaining() == pytest.approx(40.0) and t.line() == "60/100 · 40.0 s left"


def test_disabled_failed_and_quick_tasks_say_nothing(capsys, clock):
    with task("quiet", total=3, enabled=False) as t:
        clock.now += 100
        t.advance()
    with pytest.raises(ValueError):
        with task("failing", total=3) as t:
            clock.now += 100
            raise ValueError
    with task("quick"):
        clock.now += progress.SLOW / 2
    assert capsys.readouterr() == ("", "")


def test_nested_tasks_share_one_live_display(monkeypatch, capsys):
    monkeypatch.setattr(progress, "live", lambda: True)
    outer = Task("train", total=10)
    inner = Task("val estimate", total=2)
    display = progress._Display.current
    assert display is not None and display.rows == 2 and outer._display is inner._display is display
    inner.close()
    assert progress._Display.current is display and display.rows == 1
    outer.close()
    assert progress._Display.current is None


def test_numbers_in_words():
    assert [duration(s) for s in (3.14, 65, 3725)] == ["3.1 s", "1:05", "1:02:05"]
    assert [rate(x) for x in (950, 17_774, 1_234_567)] == ["950", "17.8k", "1.23M"]
    assert [hms(s) for s in (35, 65.4, 3725, None, float("inf"), 400 * 86400)] == [
        "0:00:35",
        "0:01:05",
        "1:02:05",
        "?",
        "?",
        "?",
    ]


def test_a_task_waiting_on_one_long_call_still_prints_in_a_log(monkeypatch, capsys):
    import time as real_time

    monkeypatch.setattr(progress, "PLAIN_FIRST", 0.05)
    monkeypatch.setattr(progress, "PLAIN_EVERY", 10.0)
    monkeypatch.setattr(progress, "HEARTBEAT", 0.01)
    with task("preparing data", done_message=False):
        real_time.sleep(0.5)  # one long call, no update
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("preparing data: ") and lines[0].endswith(" s"), lines
