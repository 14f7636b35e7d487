"""Which device a model runs on (``--device auto|cpu|cuda|mps``; auto picks cuda > mps > cpu),
and how much memory it offers (for refusing a model that cannot fit before allocating it)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

try:
    import resource
except ImportError:  # Windows
    resource = None

from glassgpt.errors import ConfigError


def mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def cpu_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX tiles), so bf16 autocast
    makes its matmuls faster (about 4x at one thread on an AVX512-BF16 EPYC) rather than slower."""
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(bool(probe()) for probe in probes if probe is not None)


def pick_device(name: str) -> torch.device:
    """The torch device for a ``train.device`` / ``--device`` setting, refusing one that is absent."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not (name in ("cpu", "cuda", "mps") or (name.startswith("cuda:") and name[5:].isdigit())):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps.")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available; use --device cpu.")
    if name == "mps" and not mps_available():
        raise ConfigError("--device mps was asked for but MPS is not available; use --device cpu.")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise ConfigError(f"--device {name} does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s).")
    return torch.device(name)


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (containers), when one is set."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # cgroup v1 writes a huge number for "no limit"
            return int(text)
    return None


def host_memory() -> tuple[int | None, str]:
    """(bytes, description) of the memory this process may use: the machine's RAM, lowered by
    a container's cgroup limit or this process's address-space limit (``ulimit -v``)."""
    limits = []
    try:
        limits.append((os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "this machine has"))
    except (ValueError, OSError, AttributeError):
        pass
    cgroup = _cgroup_limit()
    if cgroup:
        limits.append((cgroup, "this container is limited to"))
    for name in ("RLIMIT_AS", "RLIMIT_DATA"):
        if resource is None:
            break
        soft = resource.getrlimit(getattr(resource, name))[0]
        if soft != resource.RLIM_INFINITY:
            limits.append((soft, "this process is limited (ulimit) to"))
    return min(limits) if limits else (None, "")


def memory_of(device: torch.device) -> tuple[int | None, str]:
    """(bytes, description) of the memory a model on ``device`` can use (None: unknown)."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return props.total_memory, f"the GPU {props.name} has"
    return host_memory()


def device_of(model: torch.nn.Module) -> torch.device:
    """Where a model's tensors live (parameters or, for a model of counts only, its buffers)."""
    for tensor in model.state_dict().values():
        return tensor.device
    return torch.device("cpu")
