"""Checking a checkpoint before resuming from it: files that parse but lie.

A checkpoint whose files load may still be wrong: an ``optimizer.safetensors`` with no
tensors would silently restart AdamW from zero moments, an empty ``rng.safetensors`` or
``trainer.json = {}`` would crash half-way through the restore.  ``expected_state(engine)``
derives what a checkpoint of this run must hold from the engine's own ``state_dict()`` (a
fresh engine of the same configuration): every weight by name, shape and dtype; AdamW's
``exp_avg``, ``exp_avg_sq`` (the weight's shape and dtype) and ``step`` (one float32) for
every weight the engine trains (``engine.trained_names()``: a GPT trains every weight it has;
buffers such as BatchNorm's running statistics have no optimizer state), one momentum buffer
per weight for SGD with momentum and none for plain SGD; the CPU random stream.  ``problems``
compares a loaded checkpoint against it and returns one sentence per problem.

A distributed run's checkpoint also holds the other ranks' random streams
(``rank1.torch_cpu`` …): any of the optional stream names behind a ``rank<N>.`` prefix.
The loader position is a NumPy generator state (random windows) or a shard loader's
sample count (a prepared corpus).

The step logs are checked too: every checkpoint records how many records each log had
(``log_records``), and ``lost_records`` reports a log that has fewer up to the
checkpoint's step (a truncated or damaged ``metrics.jsonl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from glassgpt import rundir
from glassgpt.parallel.ranks import RANK_TENSOR
from glassgpt.rundir.layout import STATE_DIR, STATE_MODEL, STATE_OPTIMIZER, STATE_RNG, STATE_TRAINER, STEP_LOGS
from glassgpt.rundir.writer import LOG_RECORDS
from glassgpt.training.engines.base import TORCH_CPU
from glassgpt.training.optim.groups import param_role
from glassgpt.training.optim.optimizers import MUON_KEYS

#: AdamW's tensors per weight, stored as ``<weight>.<key>``
MOMENTS = ("exp_avg", "exp_avg_sq")
STEP = "step"
#: trainer.json: key -> (accepted types, what it should be)
TRAINER_KEYS = {
    "step": ((int,), "a whole number of steps"),
    "tokens": ((int,), "a whole number of tokens"),
    "elapsed_s": ((int, float), "a number of seconds"),
    "loader_rng": ((dict,), "a random-generator state"),
}


@dataclass(frozen=True)
class TensorSpec:
    """What one tensor must be; ``shape=None`` accepts any 1-D length."""

    shape: tuple[int, ...] | None
    dtype: torch.dtype


@dataclass
class StateSchema:
    """Per checkpoint file: the tensors it must hold and those it may hold."""

    required: dict[str, dict[str, TensorSpec]] = field(default_factory=dict)
    optional: dict[str, dict[str, TensorSpec]] = field(default_factory=dict)


def _spec(t: torch.Tensor) -> TensorSpec:
    return TensorSpec(tuple(t.shape), t.dtype)


def expected_state(engine) -> StateSchema:
    """What a checkpoint of ``engine``'s configuration holds (``engine`` must be fresh, or at
    least built for that configuration; only names, shapes and dtypes are read)."""
    fresh = engine.state_dict()
    model = {name: _spec(t) for name, t in fresh["model"].items()}
    t = engine.cfg.train
    muon = t.optimizer == "muon"
    trained = set(engine.trained_names())  # buffers (BatchNorm statistics, counts) have no optimizer state
    optimizer = {}
    for name, spec in model.items():
        if name not in trained or t.optimizer == "sgd" and not t.momentum:  # plain SGD keeps no state
            continue
        if muon and param_role(name, len(spec.shape)) == "matrix" or t.optimizer == "sgd":
            optimizer[f"{name}.{MUON_KEYS[0]}"] = spec  # Muon and SGD with momentum: one buffer
            continue
        for key in MOMENTS:
            optimizer[f"{name}.{key}"] = spec
        optimizer[f"{name}.{STEP}"] = TensorSpec((1,), torch.float32)
    rng = {TORCH_CPU: _spec(fresh["rng"][TORCH_CPU])}
    # another device's stream or another engine's dropout stream may be there or not
    # (a run may resume on another device or with the other engine): any length of bytes
    may_have = {name: TensorSpec(None, t.dtype) for name, t in fresh["rng"].items() if name != TORCH_CPU}
    may_have.update({"torch_cuda": TensorSpec(None, torch.uint8), "glass_dropout": TensorSpec(None, torch.uint8)})
    return StateSchema(
        required={STATE_MODEL: model, STATE_OPTIMIZER: optimizer, STATE_RNG: rng}, optional={STATE_RNG: may_have}
    )


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def tensor_problems(
    file: str, tensors: dict, required: dict[str, TensorSpec], optional: dict[str, TensorSpec]
) -> list[str]:
    """One sentence per problem of one checkpoint file's tensors."""
    where = f"{STATE_DIR}/{file}"
    if not tensors and required:
        return [f"{where} holds no tensors (it should hold {len(required)}: {_names(list(required))})."]
    out = []
    missing = [name for name in required if name not in tensors]  # in the model's order
    if missing:
        out.append(f"{where} lacks {len(missing)} of its {len(required)} tensors ({_names(missing)}).")
    optional = {
        **optional,
        **{n: optional[m.group(2)] for n in tensors if (m := RANK_TENSOR.match(n)) and m.group(2) in optional},
    }
    optional.update(
        {
            n: TensorSpec(None, required[m.group(2)].dtype)
            for n in tensors
            if (m := RANK_TENSOR.match(n)) and m.group(2) in required
        }
    )
    extra = sorted(set(tensors) - set(required) - set(optional))
    if extra:
        out.append(f"{where} holds {len(extra)} tensors this model does not have ({_names(extra)}).")
    for name in sorted(set(tensors) & (set(required) | set(optional))):
        spec, t = required.get(name) or optional[name], tensors[name]
        if spec.shape is None and t.dim() != 1 or spec.shape is not None and tuple(t.shape) != spec.shape:
            want = "one dimension" if spec.shape is None else f"shape {_shape(spec.shape)}"
            out.append(f"{where}: {name} has shape {_shape(t.shape)} but should have {want}.")
        elif t.dtype != spec.dtype:
            out.append(
                f"{where}: {name} is {str(t.dtype).removeprefix('torch.')} "
                f"but should be {str(spec.dtype).removeprefix('torch.')}."
            )
    return out


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _valid_generator_state(state: dict) -> bool:
    """A NumPy PCG64 state (``BatchLoader``, a word list's batches), a shard loader's position
    (``ShardLoader``), a conversation or pair source's (epoch, row) (``SFTBatches``,
    ``PairBatches``) or RL's rollouts (a PCG64 state under ``rng`` beside them: ``RolloutBatches``)."""
    if not isinstance(state, dict):
        return False
    if "rng" in state:
        state = state["rng"]
    elif _count(state.get("sample")) or (_count(state.get("epoch")) and _count(state.get("row"))):
        return True
    try:
        np.random.PCG64().state = state
    except (TypeError, ValueError, KeyError):
        return False
    return True


def trainer_problems(trainer) -> list[str]:
    """One sentence per missing or wrong key of ``trainer.json``."""
    where = f"{STATE_DIR}/{STATE_TRAINER}"
    if not isinstance(trainer, dict):
        return [f"{where} should hold a JSON object but holds {type(trainer).__name__}."]
    missing = [k for k in TRAINER_KEYS if k not in trainer]
    out = [f"{where} lacks the keys {', '.join(missing)}."] if missing else []
    for key, (types, what) in TRAINER_KEYS.items():
        value = trainer.get(key)
        if key in missing:
            continue
        if not isinstance(value, types) or isinstance(value, bool) or (isinstance(value, (int, float)) and value < 0):
            out.append(f"{where}: {key} is {value!r}, not {what}.")
        elif key == "loader_rng" and not _valid_generator_state(value):
            out.append(f"{where}: loader_rng is not a valid random-generator state.")
    return out


def step_problems(optimizer: dict, trainer: dict) -> list[str]:
    """AdamW's step counters must all equal the trainer's step (one optimizer step per training step)."""
    step = trainer.get("step") if isinstance(trainer, dict) else None
    if not isinstance(step, int):
        return []
    wrong = sorted(
        name
        for name, t in optimizer.items()
        if name.endswith(f".{STEP}") and t.numel() == 1 and float(t.reshape(-1)[0]) != step
    )
    if not wrong:
        return []
    return [
        f"{STATE_DIR}/{STATE_OPTIMIZER} counts {float(optimizer[wrong[0]].reshape(-1)[0]):g} steps for "
        f"{_names(wrong, 1)} but {STATE_TRAINER} says step {step}: the files come from different checkpoints."
    ]


def problems(schema: StateSchema, weights: dict, optimizer: dict, rng: dict, trainer) -> list[str]:
    """Every problem of a loaded checkpoint, one sentence each (empty: it can be resumed)."""
    out = []
    for file, tensors in ((STATE_MODEL, weights), (STATE_OPTIMIZER, optimizer), (STATE_RNG, rng)):
        out += tensor_problems(file, tensors, schema.required.get(file, {}), schema.optional.get(file, {}))
    out += trainer_problems(trainer)
    if not out:
        out += step_problems(optimizer, trainer)
    return out


def count_records(run_dir: Path, last_step: int) -> dict[str, int]:
    """How many records of each step log belong to steps up to ``last_step``."""
    return {
        name: sum(1 for r in rundir.read_records(run_dir / name) if r.get("step", 0) <= last_step) for name in STEP_LOGS
    }


def lost_records(run_dir: Path, trainer: dict) -> list[str]:
    """One sentence per step log holding fewer records up to the checkpoint than it had when
    the checkpoint was saved (checkpoints from before this count was kept are not checked)."""
    saved = trainer.get(LOG_RECORDS)
    if not isinstance(saved, dict):
        return []
    present = count_records(run_dir, trainer["step"])
    return [
        f"{name} has {present[name]} of the {n} records it had up to step {trainer['step']}"
        for name, n in saved.items()
        if name in present and isinstance(n, int) and present[name] < n
    ]
