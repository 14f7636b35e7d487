"""LoRA in the stages: fine-tune, DPO and RL train adapters instead of the weights; ``merge`` folds them in.

``Lora(rank, alpha, targets)`` is what ``--lora RANK --lora-alpha A --lora-targets q,k,v,o``
ask for.  ``with_lora(cfg, weights, lora, seed)`` turns a stage's configuration and starting
weights into a LoRA run's: the model settings gain the adapters and the weights fresh adapters
(A random from ``seed``, B zero: step 0 is the start model exactly); the engine then trains
the adapters alone (``models.lora``: the GPT's own weights are frozen and never reach the
optimizer), and every checkpoint writes them as their own ``adapters.safetensors`` too.  A stage
that added tokens (fine-tuning's chat tokens) passes how many: their embedding (and untied head)
rows then train as well, through the adapters' ``lora_rows`` (zero at the start), since the
frozen model never learnt them and could never write ``<|assistant_end|>`` otherwise.

``merge(run, out)`` (``glassgpt merge RUN --out NEW``) writes a new run whose weights are the
adapters folded in, ``W + (alpha/r) B A``: a plain GPT that every command reads, the same
predictions (to float rounding), no adapters left.  The source run is only read.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from glassgpt import rundir
from glassgpt.config import RunConfig, validate
from glassgpt.config.resolve import load_run_config
from glassgpt.errors import ConfigError, RunDirError
from glassgpt.fileio import save_tensors, write_json
from glassgpt.models import lora
from glassgpt.models.from_run import load_weights
from glassgpt.rundir import kinds
from glassgpt.rundir.layout import CONFIG, DATA_DIR, MODEL, STAGE, TOKENIZER


@dataclass(frozen=True)
class Lora:
    """LoRA adapters of rank ``rank`` on ``targets``, scaled by ``alpha / rank``."""

    rank: int
    alpha: float = 16.0
    targets: tuple[str, ...] = ("q", "k", "v", "o")

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ConfigError(f"--lora is the adapters' rank and must be at least 1, got {self.rank}.")


def with_lora(
    cfg: RunConfig, weights: dict[str, torch.Tensor], adapters: Lora | None, seed: int, added: int = 0
) -> tuple[RunConfig, dict[str, torch.Tensor]]:
    """The configuration and starting weights of a LoRA run (``adapters`` None: a plain run).  ``added``:
    how many tokens the stage added after ``cfg``'s vocabulary (``weights`` already have their rows,
    which train too).  A start that has adapters of its own has them folded in first."""
    if cfg.model.lora_rank:
        weights = lora.merge(weights, cfg.model)
        cfg = validate(dataclasses.replace(cfg, model=lora.without_lora(cfg.model)))
    if adapters is None:
        return cfg, weights
    model = dataclasses.replace(
        cfg.model,
        vocab_size=cfg.model.vocab_size + added,
        lora_rank=adapters.rank,
        lora_alpha=adapters.alpha,
        lora_targets=tuple(adapters.targets),
        lora_rows=added,
    )
    cfg = validate(dataclasses.replace(cfg, model=model))
    return cfg, {**weights, **lora.fresh_adapters(model, seed)}


def merge(run: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """Write ``out``: the LoRA run ``run`` with its adapters folded into the weights (see the module docstring)."""
    kinds.require(run, "merge")
    src, out = Path(run), Path(out)
    if out.resolve() == src.resolve():
        raise RunDirError("--out must be a new run directory; `glassgpt merge` never changes the run it reads.")
    cfg = load_run_config(src)
    if not cfg.model.lora_rank:
        raise ConfigError(f"{src} has no LoRA adapters to merge; its weights are already a plain GPT's.")
    weights = lora.merge(load_weights(src), cfg.model)
    merged = dataclasses.replace(cfg, model=lora.without_lora(cfg.model), resumes=())
    with rundir.NewRun(out, overwrite, "merge") as held:  # the writer lock; a failure removes what was written
        shutil.copyfile(src / TOKENIZER, out / TOKENIZER)
        if (src / DATA_DIR).is_dir():  # its data, so `glassgpt eval` measures what the LoRA run measured
            shutil.copytree(src / DATA_DIR, out / DATA_DIR)
        save_tensors(out / MODEL, weights)
        write_json(out / STAGE, {"stage": "merge", "source": str(src), "lora": _settings(cfg)})
        write_json(out / CONFIG, merged.to_dict())  # last: the run is complete
    held.release()
    return out


def _settings(cfg: RunConfig) -> dict:
    m = cfg.model
    return {"rank": m.lora_rank, "alpha": m.lora_alpha, "targets": list(m.lora_targets), "rows": m.lora_rows}
