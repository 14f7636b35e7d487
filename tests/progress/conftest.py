"""A fake clock for glassgpt.progress: ``clock.now += 5`` is five seconds later."""

from __future__ import annotations

import pytest

from glassgpt import progress


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress.time, "monotonic", c)
    # the background heartbeat reads the same clock: keep it asleep so only the test's own
    # updates print (a heartbeat line between two of them would make the output depend on timing)
    monkeypatch.setattr(progress, "HEARTBEAT", 3600.0)
    return c
