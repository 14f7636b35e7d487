"""The reward model: a chat run taught to score replies the way preference pairs rank them.

``train_reward_model(run, pairs, out)`` (``glassgpt reward RUN --pairs FILE.jsonl --out RM``):

1. reads everything first (the run, the pairs, every pair against the context), so bad
   input costs nothing; ``--pairs arithmetic`` makes the pairs from the task, sampled from
   the run itself (``stages.task_pairs``);
2. adds the readout token ``<|reward|>`` to the run's tokenizer (one new embedding row,
   ``stages.grow``) and a scalar head ``score`` (zero at the start, so every reply scores 0);
3. trains a NEW run (kind ``reward``) on the Bradley–Terry loss −log σ(r_chosen − r_rejected
   − margin), the pairs a ``PairSource``, through the ordinary trainer (checkpoints, exact
   resume, metrics with the training pairs' accuracy and margin);
4. measures the held-out pairs before and after: the share the model ranks right (pair
   accuracy) and the mean margin r_chosen − r_rejected, into ``RM/stage.json``.

``score_replies(rm, items)`` (``glassgpt reward-score``) scores (conversation, reply) items
with a trained reward model.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from glassgpt.data.pair_source import PairArrays, PairSource
from glassgpt.data.pairs import READOUT, completion_ids, prompt_ids, readout_id
from glassgpt.data.rewards import score_ids
from glassgpt.errors import TokenizerError
from glassgpt.models.from_run import load_run
from glassgpt.rundir import kinds
from glassgpt.stages.grow import grow_vocabulary
from glassgpt.stages.start import open_start, stage_config, write_record
from glassgpt.stages.task_pairs import write_task_pairs
from glassgpt.tasks import TASKS
from glassgpt.tokenizers import Tokenizer, add_special_tokens
from glassgpt.training.launch import build_trainer

DEFAULTS = {"max_steps": 200, "lr": 1e-3, "batch_size": 32, "warmup_steps": 20, "eval_every": 50, "task_pairs": 2000}


@dataclass
class RewardResult:
    run_dir: Path
    steps: int
    stopped_by: str
    before: dict  # held-out pairs: accuracy, margin, loss
    after: dict


def is_task(spec: str | Path) -> bool:
    return str(spec).partition(":")[0] in TASKS and not Path(spec).exists()


def reward_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """The policy's tokenizer with the readout token added (a reward model's)."""
    try:
        return add_special_tokens(tokenizer, [READOUT])
    except TokenizerError as exc:
        raise TokenizerError(f"this run's tokenizer cannot hold {READOUT}: {exc}") from None


def pair_scores(model: torch.nn.Module, arrays: PairArrays, margin: float = 0.0) -> dict:
    """``{"pair_accuracy", "reward_margin", "loss", "pairs"}`` of a reward model on encoded pairs."""
    with torch.no_grad():
        model.eval()
        c, r = arrays.chosen, arrays.rejected
        rc = model.rewards(torch.from_numpy(c.ids), torch.from_numpy(c.ends)).float()
        rr = model.rewards(torch.from_numpy(r.ids), torch.from_numpy(r.ends)).float()
        loss = float(torch.nn.functional.softplus(-(rc - rr - margin)).mean())
    return {
        "pair_accuracy": float((rc > rr).float().mean()),
        "reward_margin": float((rc - rr).mean()),
        "loss": loss,
        "pairs": len(rc),
    }


def train_reward_model(
    run: str | Path,
    pairs: str | Path,
    out: str | Path,
    *,
    margin: float = 0.0,
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
) -> RewardResult:
    """Train a reward model on ``pairs`` (a JSONL file, or ``arithmetic``) from the chat run ``run``
    into the new run ``out`` (see the module docstring)."""
    log = log or (lambda line: None)
    start = open_start(run, "reward", out)
    seed = start.config.train.seed if seed is None else seed
    task = str(pairs) if is_task(pairs) else ""
    data = {"kind": "pairs", "path": "" if task else str(pairs), "task": task, "val_fraction": val_fraction}
    train = {
        "objective": "reward",
        "reward_margin": margin,
        "max_steps": max_steps,
        "lr": lr,
        "batch_size": batch_size,
        "warmup_steps": warmup_steps,
        "eval_every": eval_every,
        "seed": seed,
        "time_budget": time_budget,
        "weight_decay": 0.0,  # no pull towards zero weights: only the objective moves the model
    }
    cfg = stage_config(start.config, "reward", data, train, {"reward_head": True})
    tokenizer = reward_tokenizer(start.tokenizer)
    model_cfg, weights = grow_vocabulary(start.config.model, start.weights, tokenizer.vocab_size, seed)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, vocab_size=model_cfg.vocab_size))
    weights = {**weights, "score.weight": torch.zeros(1, cfg.model.n_embd), "score.bias": torch.zeros(1)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(pairs)
        if task:
            log(f"sampling {task_pairs:,} {task} pairs from {run} (a right and a wrong answer each)")
            path = write_task_pairs(Path(tmp) / "pairs.jsonl", start.model(), start.tokenizer, task, task_pairs, seed)
        source = PairSource(cfg, tokenizer, path)
        trainer = build_trainer(out, config=cfg, overwrite=overwrite, progress=progress, source=source, weights=weights)
    _, held = source.evaluated()
    record = {"stage": "reward", "source": str(run), "pairs": str(pairs), "margin": margin, "seed": seed}
    before = pair_scores(trainer.engine.sampling_model(), held, margin)
    write_record(out, {**record, "before": before})
    log(f"held-out pairs before: accuracy {before['pair_accuracy']:.3f}, margin {before['reward_margin']:+.3f}")
    result = trainer.run()
    after = pair_scores(trainer.engine.sampling_model(), held, margin)
    write_record(out, {**record, "before": before, "after": after, "steps": result.steps})
    log(f"held-out pairs after:  accuracy {after['pair_accuracy']:.3f}, margin {after['reward_margin']:+.3f}")
    return RewardResult(result.run_dir, result.steps, result.stopped_by, before, after)


def score_replies(rm: str | Path, items: Sequence[tuple[Sequence[dict], str]]) -> np.ndarray:
    """The reward model ``rm``'s score of each (conversation before the reply, reply)."""
    kinds.require(rm, "reward-score")
    loaded = load_run(rm)
    tokenizer = loaded.tokenizer
    readout = readout_id(tokenizer)
    sequences = [
        (prompt_ids(tokenizer, messages, f"item {i}"), completion_ids(tokenizer, reply, f"item {i}"))
        for i, (messages, reply) in enumerate(items, 1)
    ]
    return score_ids(loaded.model, sequences, readout)
