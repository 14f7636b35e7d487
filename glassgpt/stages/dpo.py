"""DPO: a chat run taught from preference pairs directly, with no reward model.

``dpo(run, pairs, out)`` (``glassgpt dpo RUN --pairs FILE.jsonl --out NEW``):

1. reads everything first (the run, the pairs, every pair against the context);
   ``--pairs arithmetic`` makes the pairs from the task, sampled from the run itself;
2. computes the reference log-probability of every reply once, with the run's own (frozen)
   weights, and keeps them in ``NEW/data/reference.safetensors`` (a resume reads them back);
3. trains a NEW run (kind ``chat``, ``train.objective = "dpo"``) on
   −log σ(β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]), β = 0.1 by
   default, plus ``nll`` = α times the chosen replies' per-token NLL when α > 0
   (``models.stage_losses.dpo``), through the ordinary trainer; each step logs the implicit rewards β(log π −
   log π_ref) of the chosen and rejected replies, the share of pairs they rank right
   (implicit accuracy) and their mean margin; ``--lora`` trains adapters only;
4. measures the held-out pairs before and after (implicit accuracy and margin), and with a
   task its held-out accuracy and pass@k, into ``NEW/stage.json``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from glassgpt.data.pair_source import PairArrays, PairSource, sequence_logprobs
from glassgpt.evaluation.task import task_scores
from glassgpt.stages.lora import Lora, with_lora
from glassgpt.stages.reward import is_task
from glassgpt.stages.start import open_start, stage_config, write_record
from glassgpt.stages.task_pairs import write_task_pairs
from glassgpt.tasks import arithmetic, task_spec
from glassgpt.training.launch import build_trainer

DEFAULTS = {"max_steps": 200, "lr": 2e-4, "batch_size": 32, "warmup_steps": 10, "eval_every": 50, "task_pairs": 2000}
#: held-out problems a task run is scored on before and after
HELD_OUT = 200


@dataclass
class DPOResult:
    run_dir: Path
    steps: int
    stopped_by: str
    before: dict
    after: dict


def implicit_scores(model: torch.nn.Module, arrays: PairArrays, beta: float) -> dict:
    """The implicit rewards' accuracy and mean margin on encoded pairs (with their reference log-probs)."""
    c = sequence_logprobs(model, arrays.chosen) - arrays.reference[:, 0]
    r = sequence_logprobs(model, arrays.rejected) - arrays.reference[:, 1]
    return {
        "implicit_accuracy": float((c > r).mean()),
        "implicit_margin": float(beta * (c - r).mean()),
        "pairs": len(c),
    }


def dpo(
    run: str | Path,
    pairs: str | Path,
    out: str | Path,
    *,
    beta: float = 0.1,
    nll: float = 0.0,
    lora: Lora | None = None,
    max_steps: int = DEFAULTS["max_steps"],
    lr: float = DEFAULTS["lr"],
    batch_size: int = DEFAULTS["batch_size"],
    warmup_steps: int = DEFAULTS["warmup_steps"],
    eval_every: int = DEFAULTS["eval_every"],
    val_fraction: float = 0.1,
    task_pairs: int = DEFAULTS["task_pairs"],
    seed: int | None = None,
    time_budget: float = 0.0,
    overwrite: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DPOResult:
    """Train the chat run ``run`` by DPO on ``pairs`` (a JSONL file, or ``arithmetic``) into the new
    run ``out`` (see the module docstring)."""
    log = log or (lambda line: None)
    start = open_start(run, "dpo", out)
    seed = start.config.train.seed if seed is None else seed
    task = str(pairs) if is_task(pairs) else ""
    data = {"kind": "pairs", "path": "" if task else str(pairs), "task": task, "val_fraction": val_fraction}
    train = {
        "objective": "dpo",
        "dpo_beta": beta,
        "dpo_nll": nll,
        "max_steps": max_steps,
        "lr": lr,
        "batch_size": batch_size,
        "warmup_steps": warmup_steps,
        "eval_every": eval_every,
        "seed": seed,
        "time_budget": time_budget,
        "weight_decay": 0.0,  # no pull towards zero weights: only the objective moves the model
    }
    cfg = stage_config(start.config, "chat", data, train)
    cfg, weights = with_lora(cfg, start.weights, lora, seed)
    reference = start.model()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(pairs)
        if task:
            log(f"sampling {task_pairs:,} {task} pairs from {run} (a right and a wrong answer each)")
            path = write_task_pairs(Path(tmp) / "pairs.jsonl", reference, start.tokenizer, task, task_pairs, seed)
        source = PairSource(cfg, start.tokenizer, path, reference)
        trainer = build_trainer(out, config=cfg, overwrite=overwrite, progress=progress, source=source, weights=weights)
    _, held = source.evaluated()
    problems = arithmetic.held_out(HELD_OUT, task_spec(task)) if task else []

    def scores() -> dict:
        model = trainer.engine.sampling_model()
        out = implicit_scores(model, held, beta)
        if problems:
            out.update(task_scores(model, start.tokenizer, problems, seed=seed))
        return out

    record = {"stage": "dpo", "source": str(run), "pairs": str(pairs), "beta": beta, "seed": seed}
    before = scores()
    write_record(out, {**record, "before": before})
    log(f"held-out pairs before: implicit accuracy {before['implicit_accuracy']:.3f}")
    result = trainer.run()
    after = scores()
    write_record(out, {**record, "before": before, "after": after, "steps": result.steps})
    log(f"held-out pairs after:  implicit accuracy {after['implicit_accuracy']:.3f}")
    return DPOResult(result.run_dir, result.steps, result.stopped_by, before, after)
