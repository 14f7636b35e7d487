"""Several processes, one job: the process group ``torchrun`` starts, and the few collectives glassgpt uses.

``torchrun --nproc_per_node=N -m glassgpt train ...`` (and ``--nnodes``/``--rdzv-endpoint``
for several machines) starts N processes with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
the rendezvous address in their environment.  ``session()`` joins them into one process
group and leaves it at the end; outside torchrun (or with one process) it is a world of one
and every collective here is the identity, so callers never branch on "am I distributed".

The backend is chosen by where a tensor lives, not up front: ``"cpu:gloo,cuda:nccl"`` when
CUDA is present (gradients on the GPU go through NCCL, everything else through gloo) and
``"gloo"`` otherwise.  The control traffic here (stop agreement, losses, evaluation sums,
setup objects, checkpoint states) is small and always goes through gloo on CPU tensors.

A process that cannot reach the others (one was killed, a node went away) gets
``PeerLost``: one sentence, the CLI's exit status 2.  The group's timeout is
``GLASSGPT_DIST_TIMEOUT`` seconds (default 1800): how long a rank waits for the others
(at start-up while rank 0 prepares data, or in a collective) before giving up.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from glassgpt.errors import GlassError

TIMEOUT_ENV, DEFAULT_TIMEOUT_S = "GLASSGPT_DIST_TIMEOUT", 1800.0
OPS = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}


class PeerLost(GlassError):
    """This process lost contact with the others of its job."""


@dataclass(frozen=True)
class World:
    """This process's place in its job: ``rank`` of ``size`` (``local_rank`` on its machine)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints results."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def describe(self) -> str:
        return f"rank {self.rank} of {self.size}"

    # ---- collectives (the identity in a world of one) ---------------------------------------
    def all_reduce(self, values: list[float], op: str = "sum") -> list[float]:
        """``values`` combined over every rank: "sum", "max", "min" or "mean"."""
        if not self.active:
            return [float(v) for v in values]
        t = torch.tensor([float(v) for v in values], dtype=torch.float64)
        with self.guard():
            dist.all_reduce(t, OPS["sum" if op == "mean" else op])
        if op == "mean":
            t /= self.size
        return t.tolist()

    def broadcast(self, obj=None):
        """Rank 0's ``obj`` on every rank (plain data: dicts, lists, strings, numbers)."""
        if not self.active:
            return obj
        box = [obj if self.is_main else None]
        with self.guard():
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj) -> list | None:
        """Every rank's ``obj`` in rank order on rank 0 (None elsewhere)."""
        if not self.active:
            return [obj]
        box = [None] * self.size if self.is_main else None
        with self.guard():
            dist.gather_object(obj, box, dst=0)
        return box

    def broadcast_array(self, array: np.ndarray | None) -> np.ndarray:
        """Rank 0's 1-D NumPy array on every rank (sent as bytes, any dtype)."""
        if not self.active:
            return array
        meta = self.broadcast(None if array is None else (array.dtype.str, len(array)) if self.is_main else None)
        if meta is None:
            raise PeerLost(f"{self.describe()}: rank 0 sent no data.")
        dtype, n = np.dtype(meta[0]), meta[1]
        buf = (
            torch.from_numpy(np.ascontiguousarray(array).view(np.uint8).copy())
            if self.is_main
            else torch.empty(n * dtype.itemsize, dtype=torch.uint8)
        )
        with self.guard():
            dist.broadcast(buf, src=0)
        return buf.numpy().view(dtype)

    def broadcast_tensors(self, tensors: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
        """Rank 0's dict of CPU tensors on every rank, one tensor at a time."""
        if not self.active:
            return tensors
        meta = self.broadcast(
            [(k, tuple(t.shape), str(t.dtype).removeprefix("torch.")) for k, t in tensors.items()]
            if self.is_main
            else None
        )
        out = {}
        for name, shape, dtype in meta:
            t = (
                tensors[name].detach().to("cpu").contiguous()
                if self.is_main
                else torch.empty(shape, dtype=getattr(torch, dtype))
            )
            with self.guard():
                dist.broadcast(t, src=0)
            out[name] = t
        return out

    def barrier(self) -> None:
        if self.active:
            with self.guard():
                dist.barrier()

    @contextlib.contextmanager
    def guard(self):
        """Turn the errors of a collective whose peer is gone into one sentence."""
        try:
            yield
        except (RuntimeError, ConnectionError) as exc:
            if not self.active or not lost_peer(exc):
                raise
            raise self.lost() from None

    def lost(self) -> PeerLost:
        return PeerLost(
            f"{self.describe()} lost contact with the other processes of this job (one of them stopped "
            "or crashed); the run's last checkpoint is intact: run the same command with --resume."
        )


SINGLE = World()
_current = SINGLE


def lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective failing because another process is gone (or timed out)."""
    if isinstance(exc, (dist.DistError, ConnectionError)):
        return True
    text = str(exc).lower()
    return any(
        k in text
        for k in (
            "connection closed",
            "connection reset",
            "broken pipe",
            "timed out",
            "timeout",
            "gloo",
            "nccl",
            "socket",
            "peer",
        )
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (for a one-machine job's rendezvous)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def launched() -> bool:
    """Whether this process was started by torchrun as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def current() -> World:
    """The world of this process (a world of one outside ``session``)."""
    return _current


def timeout_s() -> float:
    value = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        raise GlassError(f"{TIMEOUT_ENV} must be a number of seconds, not {value!r}.") from None
    if not seconds > 0:
        raise GlassError(f"{TIMEOUT_ENV} must be a positive number of seconds, not {value!r}.")
    return seconds


def _env_int(name: str) -> int:
    value = os.environ.get(name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise GlassError(
            f"the environment variable {name} is {value!r}; start the processes with torchrun, which sets it."
        ) from None


@contextlib.contextmanager
def session():
    """``with session() as world:`` the job's process group (joined here when torchrun started
    several processes, left at the end) or a world of one."""
    global _current
    if not launched() or dist.is_initialized():
        yield _current
        return
    world = World(
        _env_int("RANK"),
        _env_int("WORLD_SIZE"),
        _env_int("LOCAL_RANK"),
        int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1),
    )
    backend = "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(world.local_rank % torch.cuda.device_count())
        backend = "cpu:gloo,cuda:nccl"
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s()))
    except (RuntimeError, ValueError, ConnectionError) as exc:
        raise PeerLost(
            f"{world.describe()} could not join the other processes ({str(exc).splitlines()[0]}); "
            "check the torchrun rendezvous settings."
        ) from None
    _current = world
    failed = False
    try:
        yield world
    except BaseException:
        failed = True
        raise
    finally:
        _current = SINGLE
        if not failed:  # a clean end: wait for everyone, then leave (a broken group is simply dropped)
            with contextlib.suppress(Exception):
                dist.barrier()
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def device_for(device: torch.device, world: World | None = None) -> torch.device:
    """The device this rank uses: its own GPU (``cuda:LOCAL_RANK``) when ``device`` is CUDA."""
    world = world or current()
    if device.type == "cuda" and device.index is None and world.active:
        return torch.device("cuda", world.local_rank % max(torch.cuda.device_count(), 1))
    return device
