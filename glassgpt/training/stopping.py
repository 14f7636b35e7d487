"""Stopping a run cleanly when asked to: Ctrl-C, SIGTERM and SIGUSR1.

- **SIGINT** (Ctrl-C): finish the current step, save, evaluate, sample, write
  ``summary.json`` with ``stopped_by: "interrupted"``.  A second Ctrl-C stops at once
  (``KeyboardInterrupt``; the last checkpoint stays as it was).
- **SIGTERM** (what ``docker stop``, ``systemd``, Kubernetes and schedulers send before they
  kill) and **SIGUSR1** (what clusters such as SLURM can send ahead of a preemption): finish
  the current step, save, write ``summary.json`` with ``stopped_by: "terminated"`` and return
  at once.  The full validation pass and the end-of-run samples are skipped: the grace
  period before the hard kill is often 10–30 seconds, and the checkpoint matters more.
  A resumed run that finishes writes them.  Repeated SIGTERMs change nothing.

The handlers are installed only for the duration of a run (``with StopSignals() as stop:``)
and the previous ones are put back afterwards.  Outside the main thread, where Python cannot
install handlers, a run simply has none.

The loop reads ``stop.check(out_of_time)`` exactly once per step, after the step and before
deciding whether to log, save and stop; a spent time budget is one more reason,
``"time_budget"``.  That one reading is the hook for distributed training: a torchrun run
passes ``agree``, a function every rank calls at that point with its own reason (an
all-reduce MAX of ``REASON_CODES``, ``stop_agreement``), so that a
signal that reached one rank stops every rank after the same step and all of them save the
same checkpoint.  A signal agreed that way counts as received (``terminated`` is then true
on every rank, so all of them skip the same end-of-run work).
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from glassgpt.parallel.world import World

INTERRUPTED, TERMINATED, TIME_BUDGET = "interrupted", "terminated", "time_budget"
#: the signals a run stops on, and the ``stopped_by`` each one records
REASONS = {signal.SIGINT: INTERRUPTED, signal.SIGTERM: TERMINATED}
if hasattr(signal, "SIGUSR1"):
    REASONS[signal.SIGUSR1] = TERMINATED
#: reasons as numbers for an all-reduce (a larger one wins: a termination outranks a Ctrl-C,
#: which outranks the time budget)
REASON_CODES = {None: 0, TIME_BUDGET: 1, INTERRUPTED: 2, TERMINATED: 3}


class Terminated(Exception):
    """Raised by ``StopSignals.raise_if_terminated`` to cut work after a save short."""


class StopSignals:
    """Turns the stop signals into a reason the training loop reads once per step."""

    def __init__(self, agree: Callable[[str | None], str | None] | None = None):
        self.agree = agree
        self.reason: str | None = None
        self.interrupts = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for signum in REASONS:
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: no handlers
                break
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        reason = REASONS[signum]
        if reason == INTERRUPTED:
            self.interrupts += 1
            if self.interrupts > 1:  # the second Ctrl-C stops at once
                raise KeyboardInterrupt
        if REASON_CODES[reason] > REASON_CODES[self.reason]:
            self.reason = reason

    def check(self, out_of_time: bool = False) -> str | None:
        """The reason to stop after this step (None: go on; ``out_of_time``: the time budget is
        spent), agreed by every process when ``agree`` is set."""
        reason = self.reason
        if out_of_time and reason is None:
            reason = TIME_BUDGET
        if self.agree is None:
            return reason
        agreed = self.agree(reason)
        if agreed in (INTERRUPTED, TERMINATED) and REASON_CODES[agreed] > REASON_CODES[self.reason]:
            self.reason = agreed  # another rank's signal: act on it here too
        return agreed

    @property
    def terminated(self) -> bool:
        return self.reason == TERMINATED

    def raise_if_terminated(self) -> None:
        if self.terminated:
            raise Terminated


def stop_agreement(world: World) -> Callable[[str | None], str | None]:
    """The ``StopSignals`` agreement of a distributed run: the largest reason of any rank
    (terminated > interrupted > time budget), the time budget counting only on rank 0."""
    reasons = {code: reason for reason, code in REASON_CODES.items()}

    def agree(reason: str | None) -> str | None:
        code = REASON_CODES[reason]
        if reason == TIME_BUDGET and not world.is_main:
            code = 0
        return reasons[int(world.all_reduce([code], "max")[0])]

    return agree
