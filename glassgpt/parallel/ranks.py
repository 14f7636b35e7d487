"""The trainer under torchrun: how the processes of one run share setup, data, stops and checkpoints.

``torchrun --nproc_per_node=N -m glassgpt train ...`` starts N processes (``glassgpt.parallel.world``
joins them).  Rank 0 is the one that reads and writes the run directory: it checks the
input, prepares the data, takes the writer lock, writes ``config.json``, logs, checkpoints,
samples and the report.  The other ranks never touch the run directory; they get from
rank 0, once at start-up, the resolved configuration, the tokenizer, the token splits of a
text corpus (a prepared corpus, ``--data DIR`` with ``index.json``, is read by every rank
from its own path) and, when resuming, the checkpoint.

* **Data**: every rank draws from the same global stream and takes its own part of it
  (``BatchLoader`` and ``ShardLoader`` with ``rank``/``world_size``), so one step of N ranks ×
  batch B sees exactly what one process sees with batch B × N micro-batches.
* **Steps**: gradients are all-reduced once per step, after the last micro-batch
  (``parallel.data_parallel``); the logged loss is the mean over micro-batches and ranks.
* **Tokens per step**: ``train.tokens_per_step`` sets ``grad_accum`` = tokens_per_step ÷
  (batch_size × seq_len × processes) (``config.derive``), refusing a world size that does not divide it.
* **Stopping**: every step each rank contributes its stop reason to an all-reduce MAX
  (``training.stopping.stop_agreement``): a Ctrl-C or SIGTERM that reached one rank stops all of them after the
  same step, and they save one checkpoint.  The time budget is rank 0's clock alone.
* **Evaluation**: the batches are split over the ranks (batch i on rank i mod N) and the
  sums added up (``RankShare``); under FSDP, where a forward pass needs every rank, all ranks
  run every batch.
* **Checkpoints**: whole tensors, written by rank 0 in the same format as a single process
  (under FSDP the shards are gathered first: ``engine.state_dict()``), plus every rank's RNG
  (``rank1.torch_cpu`` … beside rank 0's ``torch_cpu``) and loader position
  (``trainer.json``'s ``loader_ranks``).

**Resuming under another world size** keeps the step, the tokens seen (each step counts the
tokens it really trained on), the weights, AdamW's moments and the position in the data
stream (the loaders' states are global); ranks that have a saved RNG get it back, the others
start theirs from seed + rank (only dropout draws from it).  Unless ``tokens_per_step``
re-derives ``grad_accum``, the tokens per step change with the world size.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import torch

from glassgpt.errors import GlassError
from glassgpt.parallel.world import PeerLost, World

#: a non-zero rank's random stream in rng.safetensors: "rank3.torch_cpu"
RANK_TENSOR = re.compile(r"^rank(\d+)\.(.+)$")


class RankShare:
    """Evaluation over the ranks: ``share(*batch)`` runs the i-th batch of an evaluation only on
    rank i mod N (the others count it as (0, 0)), and ``reduce(total, count)`` adds the ranks'
    sums.  ``lockstep`` (FSDP): every rank runs every batch and nothing is added."""

    def __init__(self, sums: Callable[..., tuple[float, int]], world: World, lockstep: bool = False):
        self.sums, self.world = sums, world
        self.split = world.active and not lockstep
        self.calls = 0

    def __call__(self, *batch) -> tuple[float, int]:
        i, self.calls = self.calls, self.calls + 1
        if not self.split or i % self.world.size == self.world.rank:
            return self.sums(*batch)
        return 0.0, 0

    def reduce(self, total: float, count: int) -> tuple[float, int]:
        if not self.split:
            return total, count
        total, count = self.world.all_reduce([total, count])
        return total, int(round(count))


# ---- checkpoints: every rank's RNG and loader position -------------------------------------------
def merge_rng(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Rank 0's streams under their own names, rank r's as ``rank{r}.<name>``."""
    out = dict(states[0])
    for r, state in enumerate(states[1:], 1):
        out.update({f"rank{r}.{name}": t for name, t in state.items()})
    return out


def rank_rng(saved: dict[str, torch.Tensor], rank: int) -> dict[str, torch.Tensor]:
    """The streams saved for ``rank`` (empty when the checkpoint has none for it)."""
    if rank == 0:
        return {k: v for k, v in saved.items() if not RANK_TENSOR.match(k)}
    out = {}
    for name, t in saved.items():
        m = RANK_TENSOR.match(name)
        if m and int(m.group(1)) == rank:
            out[m.group(2)] = t
    return out


def rank_loader(trainer_state: dict, rank: int):
    """The loader position saved for ``rank``: its own, else rank 0's (the stream is global)."""
    ranks = trainer_state.get("loader_ranks")
    if isinstance(ranks, list) and rank < len(ranks) and ranks[rank] is not None:
        return ranks[rank]
    return trainer_state["loader_rng"]


def gather_state(engine, loader_state, world: World) -> tuple[dict | None, list]:
    """(the engine's state with every rank's RNG, every rank's loader position) on rank 0;
    (None, []) elsewhere.  Every rank must call it (FSDP gathers its shards here)."""
    if not world.active:
        return engine.state_dict(), [loader_state]
    whole = world.is_main or engine.collective
    state = engine.state_dict() if whole else {"rng": engine.rng.state()}
    parts = world.gather({"rng": state["rng"], "loader": loader_state})
    if not world.is_main:
        return None, []
    state["rng"] = merge_rng([p["rng"] for p in parts])
    return state, [p["loader"] for p in parts]


# ---- start-up: rank 0 prepares, the others receive ------------------------------------------------
def announce_failure(world: World, exc: BaseException) -> None:
    """Rank 0 could not set the run up: tell the ranks waiting for its setup (then it re-raises)."""
    if world.active and world.is_main:
        text = str(exc) if isinstance(exc, GlassError) else f"{exc.__class__.__name__}: {exc}"
        try:
            world.broadcast({"error": text})
        except PeerLost:
            pass


def receive_setup(world: World) -> dict:
    """What rank 0 sent at start-up; its failure becomes this rank's one sentence."""
    setup = world.broadcast(None)
    if not isinstance(setup, dict):
        raise PeerLost(f"{world.describe()} received nothing from rank 0 at start-up.")
    if "error" in setup:
        raise GlassError(f"{world.describe()} stopped because rank 0 could not start the run: {setup['error']}")
    return setup


def share_arrays(world: World, arrays: list[np.ndarray] | None, count: int) -> list[np.ndarray]:
    """Rank 0's token arrays on every rank."""
    return [world.broadcast_array(np.asarray(arrays[i]) if world.is_main and arrays else None) for i in range(count)]


def lead(world: World, setup: dict, arrays: list[np.ndarray], tensors: list[dict] | None) -> None:
    """Rank 0, once the run is set up: send the others ``setup`` (plain JSON: the configuration,
    the tokenizer, where the run starts ...), the data's ``arrays`` and, when resuming, the
    restored ``tensors`` (model, optimizer, every rank's RNG)."""
    world.broadcast({**setup, "arrays": len(arrays), "tensors": 0 if tensors is None else len(tensors)})
    share_arrays(world, arrays, len(arrays))
    for part in tensors or []:
        world.broadcast_tensors(part)


def follow(world: World) -> tuple[dict, list[np.ndarray], list[dict] | None]:
    """Ranks 1…N-1: what ``lead`` sent: (setup, arrays, tensors or None)."""
    setup = receive_setup(world)
    arrays = share_arrays(world, None, int(setup["arrays"]))
    tensors = [world.broadcast_tensors(None) for _ in range(int(setup["tensors"]))] or None
    return setup, arrays, tensors
