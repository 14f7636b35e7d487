"""glassgpt.terminal (escaping, widths, command-line escapes); the glassgpt.progress tests are
in tests/progress/."""

from __future__ import annotations

import io

import pytest

from glassgpt import terminal


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
