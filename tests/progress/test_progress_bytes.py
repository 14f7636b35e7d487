"""ByteTask: the byte-counting Task (data prepare): MB done / total, MB/s and ETA, with the
rules of every task (stderr only, plain lines on a schedule in a log, one live display)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from glassgpt import progress
from glassgpt.progress import ByteTask


def test_the_bytes_line_reads_megabytes_speed_and_eta(clock):
    t = ByteTask("prepare", 100_000_000, enabled=False)
    assert t.line() == "0.0/100.0 MB  0.0 MB/s  ETA ?"  # no speed yet: no ETA
    clock.now += 5
    t.update(12_500_000)  # 2.5 MB/s: 87.5 MB more take 35 s
    assert t.speed() == pytest.approx(2_500_000)
    assert t.line() == "12.5/100.0 MB  2.5 MB/s  ETA 0:00:35"
    clock.now += 5
    t.advance(37_500_000)  # 50 MB in 10 s
    assert t.line() == "50.0/100.0 MB  5.0 MB/s  ETA 0:00:10"


def test_resumed_bytes_count_in_the_total_not_in_the_speed(clock):
    t = ByteTask("prepare", 100_000_000, done=50_000_000, enabled=False)
    clock.now += 10
    t.advance(10_000_000)  # 1 MB/s of this run: 40 MB left take 40 s
    assert t.line() == "60.0/100.0 MB  1.0 MB/s  ETA 0:00:40"


def test_an_unknown_total_shows_the_time_so_far(clock):
    t = ByteTask("download", enabled=False)
    clock.now += 4
    t.advance(2_000_000)
    assert t.line() == "2.0 MB  0.5 MB/s  4.0 s"


def test_in_a_log_a_first_line_after_a_pause_then_every_interval_then_done(capsys, clock):
    with ByteTask("prepare", 100_000_000) as t:
        clock.now += 1
        t.advance(1_000_000)
        assert capsys.readouterr().err == ""  # not yet
        clock.now += 4
        t.advance(11_500_000)
        assert capsys.readouterr().err == "prepare: 12.5/100.0 MB  2.5 MB/s  ETA 0:00:35\n"
        clock.now += 1
        t.advance(12_500_000)
        assert capsys.readouterr().err == ""  # not before the next interval
        clock.now += progress.PLAIN_EVERY - 1
        t.advance(25_000_000)  # 50 MB in 15 s
        assert capsys.readouterr().err == "prepare: 50.0/100.0 MB  3.3 MB/s  ETA 0:00:15\n"
        clock.now += 5
        t.advance(50_000_000)
    captured = capsys.readouterr()
    assert captured.err == "prepare: done in 20.0 s (100.0/100.0 MB  5.0 MB/s)\n"
    assert captured.out == ""


def test_quick_failed_and_disabled_byte_tasks_print_nothing(capsys, clock):
    with ByteTask("quick", 1_000) as t:
        clock.now += progress.SLOW / 2
        t.advance(1_000)
    with pytest.raises(OSError):
        with ByteTask("failing", 1_000):
            clock.now += 100  # slow, but failed: no done line
            raise OSError
    with ByteTask("quiet", 1_000, enabled=False) as t:
        clock.now += 100
        t.advance(500)
    assert capsys.readouterr() == ("", "")


@pytest.fixture
def screen(monkeypatch):
    """A terminal 100 columns wide that the live display draws on."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system=None, highlight=False)
    monkeypatch.setattr(progress, "_stderr_console", lambda: console)
    monkeypatch.setattr(progress, "live", lambda: True)
    return buf


def test_on_a_terminal_the_row_shows_the_same_texts_in_the_shared_display(screen, capsys, clock):
    outer = progress.Task("outer", total=3, done_message=False)
    bar = ByteTask("prepare", 100_000_000)
    display = progress._Display.current
    assert display.rows == 2 and bar._display is outer._display is display  # one live display
    clock.now += 5
    bar.update(12_500_000)
    display.rich.refresh()
    drawn = screen.getvalue().splitlines()[-2:]
    row = next(line for line in drawn if "prepare" in line)
    assert "12.5/100.0 MB" in row and "2.5 MB/s" in row and "ETA 0:00:35" in row, row
    bar.close()  # the done line is printed above the rows still running
    assert "prepare: done in 5.0 s (12.5/100.0 MB  2.5 MB/s)\n" in screen.getvalue()
    outer.close()
    assert progress._Display.current is None
    assert capsys.readouterr() == ("", "")  # nothing went around the display
