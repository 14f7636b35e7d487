"""Tasks with answers a program can check: the problems, their held-out split, the reward.

``arithmetic`` (``12+34=46``) is the one that ships; the stages after pretraining (the reward
model, RL, DPO) are measured on it (``benchmarks/stages.py``).  ``task_spec("arithmetic:digits=2")``
reads a task's name and options from the command line; ``arithmetic-tools`` is the same task
answered with the calculator (its fine-tuning conversations call it).
"""

from __future__ import annotations

from glassgpt.errors import ConfigError
from glassgpt.tasks import arithmetic
from glassgpt.tasks.arithmetic import Difficulty

TASKS = (arithmetic.NAME, arithmetic.TOOLS_NAME)


def task_spec(spec: str) -> Difficulty:
    """The difficulty ``spec`` names: ``arithmetic`` or ``arithmetic:OPTIONS`` (see ``Difficulty.parse``)."""
    name, _, options = spec.partition(":")
    if name.strip() not in TASKS:
        raise ConfigError(f"unknown task {name!r}; the tasks are: {', '.join(TASKS)}.")
    return Difficulty.parse(options)


__all__ = ["TASKS", "Difficulty", "arithmetic", "task_spec"]
