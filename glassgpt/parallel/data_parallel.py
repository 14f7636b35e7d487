"""Data parallelism for the torch engine: one process (``Local``), DDP, or FSDP2.

All three give the engine the same few things, so its training step is written once:

* ``module``: what the forward pass runs through (the DDP wrapper, or the model itself);
* ``sync(last)``: entered *before* each micro-batch's forward pass.  Gradient accumulation
  all-reduces only on the last micro-batch of a step: DDP's ``no_sync()`` covers the
  forward and backward of every other one (entered after the forward, it would be too late:
  DDP decides in its forward whether the coming backward reduces), FSDP2's
  ``set_requires_gradient_sync(last)`` likewise;
* ``mean(x)``: a number averaged over the ranks (the logged loss);
* ``norm(total)``: a gradient norm as a float (FSDP2 returns a sharded one);
* ``full(t)`` / ``local(t, like)``: between whole tensors and this rank's part of them.

DDP keeps a full copy of the model and of AdamW's moments on every rank and averages the
gradients.  FSDP2 (``fsdp.py``, ``torch.distributed.fsdp.fully_shard``, one unit per block plus the
root holding the embeddings, final norm and head) keeps only 1/N of every parameter, its
gradient and its AdamW moments on each rank, gathering a block's weights just before it
runs.  Checkpoints hold whole tensors either way (see ``training.distributed``), so a run
can resume under either, on any number of processes.
"""

from __future__ import annotations

import contextlib

import torch
from torch.nn.parallel import DistributedDataParallel

from glassgpt.device import device_of
from glassgpt.parallel.world import World


class Local:
    """One process: the model as it is, nothing to synchronise."""

    sharded = False

    def __init__(self, model: torch.nn.Module, world: World | None = None):
        self.model, self.module = model, model

    def sync(self, last: bool):
        return contextlib.nullcontext()

    def mean(self, value: float) -> float:
        return value

    def norm(self, total: torch.Tensor) -> float:
        return float(total)

    def full(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def local(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return t


class DDP(Local):
    """Every rank a full replica; gradients averaged over the ranks after the last micro-batch."""

    def __init__(self, model: torch.nn.Module, world: World):
        super().__init__(model, world)
        self.world = world
        device = device_of(model)
        ids = [device.index] if device.type == "cuda" else None
        # the weights are already equal on every rank (the trainer broadcasts them)
        self.module = DistributedDataParallel(model, device_ids=ids, init_sync=False)

    def sync(self, last: bool):
        return contextlib.nullcontext() if last else self.module.no_sync()

    def mean(self, value: float) -> float:
        return self.world.all_reduce([value], "mean")[0]


MODES = {"none": Local, "ddp": DDP}


def wrap(model: torch.nn.Module, mode: str, world: World) -> Local:
    """``model`` prepared for ``mode`` ("none", "ddp", "fsdp") in ``world``.  FSDP (``fsdp.py``)
    is imported only here: its DTensor machinery costs ~45 MB of resident memory in every
    process that imports it."""
    if mode == "fsdp":
        from glassgpt.parallel.fsdp import FSDP

        return FSDP(model, world)
    return MODES[mode](model, world)
