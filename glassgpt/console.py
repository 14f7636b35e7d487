"""The rich console on standard output that every table is printed through.

It is ``terminal.width()`` columns wide, and a closed pipe is raised as ``BrokenPipeError``
(rich would exit with status 1 on its own), so the CLI ends every command the same way.
"""

from __future__ import annotations

from rich.console import Console

from glassgpt.terminal import width


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Leave the closed pipe to the caller (the CLI exits quietly with status 141)."""
        self.quiet = True
        raise BrokenPipeError


def console(columns: int | None = None, **kwargs) -> Console:
    """A rich console on standard output, ``columns`` wide (default: ``width()``)."""
    return _Console(width=columns or width(), highlight=False, **kwargs)
