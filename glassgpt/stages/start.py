"""What every stage after fine-tuning starts from: a trained run, read but never changed.

``open_start(run, command)`` checks the run's kind for the command, reads its configuration,
weights and tokenizer, and folds LoRA adapters into the weights (a LoRA run is its merged
model as far as the next stage is concerned).  ``stage_config`` makes the new run's
configuration from it: the start's model, the stage's data and training settings, kind
``chat`` (DPO, RL) or ``reward``; validated, so an impossible setting (G < 2, β < 0 …) is one
sentence before anything is written.  ``write_record`` writes the stage's ``stage.json``:
what produced the run (the stage, its start run, its data, its settings) and its figures
before and after training.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from glassgpt.config import RunConfig, validate
from glassgpt.config.resolve import load_run_config
from glassgpt.data.prompt_source import Frozen
from glassgpt.errors import RunDirError
from glassgpt.fileio import write_json
from glassgpt.models import GPT, lora
from glassgpt.models.from_run import load_run_tokenizer, load_weights
from glassgpt.rundir import kinds
from glassgpt.rundir.layout import STAGE
from glassgpt.tokenizers import Tokenizer


@dataclass
class StartRun:
    """A trained run as a stage reads it: configuration and weights with any adapters merged."""

    path: Path
    config: RunConfig
    weights: dict[str, torch.Tensor]
    tokenizer: Tokenizer

    def model(self) -> GPT:
        """The start's GPT (eval mode, the global random state untouched)."""
        with torch.random.fork_rng(devices=[]):
            model = GPT(self.config.model)
        model.load_weights(self.weights)
        return model.eval()

    def frozen(self) -> Frozen:
        """The start as a frozen model (the reference of DPO's and RL's KL)."""
        return Frozen(self.config.to_dict(), self.model(), self.tokenizer)


def open_start(run: str | Path, command: str, out: str | Path) -> StartRun:
    """The run ``command`` starts from; refuses another kind, and an ``out`` that is the run itself."""
    kinds.require(run, command)
    path = Path(run)
    if Path(out).resolve() == path.resolve():
        raise RunDirError(
            f"--out must be a new run directory; `glassgpt {command}` never changes the run it starts from."
        )
    cfg = load_run_config(path)
    weights = load_weights(path)
    if cfg.model.lora_rank:
        weights = lora.merge(weights, cfg.model)
        cfg = dataclasses.replace(cfg, model=lora.without_lora(cfg.model))
    return StartRun(path, cfg, weights, load_run_tokenizer(path))


def stage_config(
    start: RunConfig, kind: str, data: dict[str, Any], train: dict[str, Any], model: dict[str, Any] | None = None
) -> RunConfig:
    """The new run's configuration: the start's model (with ``model`` changed), the stage's data and
    training settings over the start's, fresh run bookkeeping; validated."""
    t = start.train
    max_steps = train["max_steps"]
    train = {
        "grad_accum": 1,
        "tokens_per_step": 0,
        "decay_steps": 0,
        "sample_every": 0,
        "sample_prompts": (),
        "sample_tokens": 0,
        "engine": "torch",
        "doc_mask": False,
        "save_every": max(1, min(t.save_every, max_steps)),
        "schedule_clock": "steps" if not train.get("time_budget") else t.schedule_clock,
        **train,
        "warmup_steps": min(train.get("warmup_steps", t.warmup_steps), max_steps),
    }
    data = {
        "corpus": "",
        "files": (),
        "jsonl_field": "",
        "fingerprint": "",
        "path": "",
        "task": "",
        "reward_model": "",
        **data,
    }
    return validate(
        dataclasses.replace(
            start,
            model=dataclasses.replace(start.model, **(model or {})),
            data=dataclasses.replace(start.data, **data),
            train=dataclasses.replace(t, **train),
            kind=kind,
            resumes=(),
        )
    )


def write_record(out: str | Path, record: dict[str, Any]) -> None:
    """The stage's ``stage.json`` (written when the run is made, and again when it has trained)."""
    write_json(Path(out) / STAGE, record)
