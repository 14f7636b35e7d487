"""What a run returns (``TrainResult``) and where it starts (``Start``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from glassgpt.config import RunConfig
from glassgpt.rundir.card import run_card


@dataclass
class TrainResult:
    """What `train` returns: the run, how far it went and why it stopped, the final evaluation and samples."""

    run_dir: Path
    steps: int
    stopped_by: str
    final: dict = field(default_factory=dict)
    sample: str = ""  # the first of ``samples``
    samples: list[str] = field(default_factory=list)  # one per prompt in train.sample_prompts
    rank: int = 0  # under torchrun: this process's rank (0 writes)
    config: RunConfig | None = None  # the frozen configuration the run trained with

    def _repr_html_(self) -> str:
        """What a notebook shows: the run's card (``rundir.card``)."""
        return run_card(self.run_dir)


@dataclass
class Start:
    """Where a run begins: step 0, or what a checkpoint restored."""

    step: int = 0
    tokens: int = 0
    elapsed: float = 0.0
    resumed: bool = False
