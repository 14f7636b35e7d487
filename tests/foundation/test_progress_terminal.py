"""glassgpt.progress (tasks on a terminal or as plain lines) and glassgpt.terminal (escaping,
widths, command-line escapes)."""

from __future__ import annotations

import io

import pytest

from glassgpt import progress, terminal
from glassgpt.progress import Task, duration, rate, task
from glassgpt.training.progress import Progress as TrainBar


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress.time, "monotonic", c)
    return c


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
    assert (
        capsys.readouterr().err
        == f"final evaluation: done in {duration(progress.PLAIN_FIRST + 1 + progress.PLAIN_EVERY)} (batch 40)\n"
    )


def test_time_left_is_the_rate_or_what_the_caller_knows(clock):
    t = Task("x", total=100, enabled=False)
    assert t.time_text() == "0.0 s"  # nothing done: time so far
    clock.now += 10
    t.update(25)
    assert t.remaining() == pytest.approx(30.0) and t.time_text() == "30.0 s left"
    t.update(eta=5.0, eta_note="budget")
    assert t.time_text() == "5.0 s left (budget)"


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
    assert capsys.readouterr().err == ""


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


def test_the_training_bar_ends_at_the_budget_when_it_comes_first(monkeypatch, capsys, clock):
    monkeypatch.setattr("glassgpt.training.progress.time.monotonic", clock)
    bar = TrainBar(total=1000, done=0, time_budget=60.0)
    clock.now += 10
    bar.update(100, loss=2.0, tokens_per_sec=1000.0)  # 10 steps/s: 1000 steps need 100 s > 60 s
    assert bar.time_left(100) == (pytest.approx(50.0), True)
    assert bar.task.time_text() == "50.0 s left (budget)"
    assert "will end this run near step 600 of 1,000" in capsys.readouterr().err
    no_budget = TrainBar(total=1000, done=0)
    clock.now += 10
    no_budget.update(500, loss=2.0, tokens_per_sec=1000.0)
    assert no_budget.time_left(500) == (pytest.approx(10.0), False)
    bar.close()
    no_budget.close()


def test_numbers_in_words():
    assert [duration(s) for s in (3.14, 65, 3725)] == ["3.1 s", "1:05", "1:02:05"]
    assert [rate(x) for x in (950, 17_774, 1_234_567)] == ["950", "17.8k", "1.23M"]


@pytest.mark.parametrize(
    "text, shown",
    [
        ("\x1b[31mred\x07", "\\x1b[31mred\\x07"),
        ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
        ("a\u202eevil", "a\\u202eevil"),  # a right-to-left override reorders what follows
        ("lines\nand\ttabs stay", "lines\nand\ttabs stay"),
        ("café 日本語 😀", "café 日本語 😀"),
    ],
)
def test_printable_escapes_only_what_a_terminal_would_act_on(text, shown):
    assert terminal.printable(text) == shown


def test_for_stream_escapes_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert terminal.for_stream("\x1b", Tty()) == "\\x1b"
    assert terminal.for_stream("\x1b", Tty(), raw=True) == "\x1b"
    assert terminal.for_stream("\x1b", io.StringIO()) == "\x1b"


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("\\n\\n", "\n\n"),
        ("tab\\there", "tab\there"),
        ("\\x1b", "\x1b"),
        ("\\u00e9t\\u00e9", "été"),
        ("a\\\\b", "a\\b"),
        ("plain", "plain"),
        ("日本\\n", "日本\n"),
        ("é\\t", "é\t"),
    ],
)
def test_unescape_reads_what_a_shell_passes(typed, meant):
    assert terminal.unescape(typed) == meant


def test_unescape_refuses_a_broken_escape():
    with pytest.raises(ValueError, match="incomplete escape"):
        terminal.unescape("ab\\x")


def test_width_follows_columns_when_not_on_a_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "123")
    assert terminal.width(io.StringIO()) == 123
    monkeypatch.delenv("COLUMNS")
    assert terminal.width(io.StringIO()) == 80


def test_a_task_waiting_on_one_long_call_still_prints_in_a_log(monkeypatch, capsys):
    import time as real_time

    monkeypatch.setattr(progress, "PLAIN_FIRST", 0.05)
    monkeypatch.setattr(progress, "PLAIN_EVERY", 10.0)
    monkeypatch.setattr(progress, "HEARTBEAT", 0.01)
    with task("preparing data", done_message=False):
        real_time.sleep(0.5)  # one long call, no update
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("preparing data: ") and lines[0].endswith(" s"), lines
