"""FSDP2 for the torch engine: ``data_parallel``'s interface over sharded parameters.

Its own module because ``torch.distributed.fsdp`` and DTensor cost ~45 MB of resident memory
in every process that imports them; ``data_parallel.wrap`` imports this one only for
``mode = "fsdp"`` (``benchmarks/peak_memory.py``).
"""

from __future__ import annotations

import contextlib

import torch
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

from glassgpt.device import device_of
from glassgpt.parallel.data_parallel import DDP, Local
from glassgpt.parallel.world import World


class FSDP(DDP):
    """Parameters, gradients and optimizer state sharded over the ranks (FSDP2)."""

    sharded = True

    def __init__(self, model: torch.nn.Module, world: World):
        Local.__init__(self, model, world)
        self.world = world
        device = device_of(model)
        self.mesh = init_device_mesh(device.type, (world.size,))
        for block in model.transformer.h:
            fully_shard(block, mesh=self.mesh)
        fully_shard(model, mesh=self.mesh)  # the root: embeddings (and the tied head), final norm

    def sync(self, last: bool):
        self.model.set_requires_gradient_sync(last)
        return contextlib.nullcontext()

    def norm(self, total: torch.Tensor) -> float:
        return float(total.full_tensor() if isinstance(total, DTensor) else total)

    def full(self, t: torch.Tensor) -> torch.Tensor:
        return t.full_tensor() if isinstance(t, DTensor) else t

    def local(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``t`` (whole, the same on every rank) as a DTensor placed like ``like``."""
        if not isinstance(like, DTensor):
            return t
        return distribute_tensor(t.to(like.device, like.dtype), like.device_mesh, like.placements, src_data_rank=None)
