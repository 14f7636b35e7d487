"""How many CPU threads torch and NumPy's BLAS use: chosen from the cores really available,
adapted when the machine gets busy, set for a scope and restored after it.

``with thread_scope(n): ...`` runs its body with ``n`` torch threads and ``n`` BLAS threads
(NumPy's matrix products, which the glass engine uses), then puts both counts back, so
nothing a training run does to the thread settings outlives it.

On a machine whose cores are busy with other work, a multi-threaded BLAS spins waiting
for its helper threads and a small matmul can become 100x slower; tests and benchmarks
pin the count.  NumPy's OpenBLAS is set through its own ``*_set_num_threads`` via ctypes;
another BLAS with ``threadpoolctl`` when it is installed, otherwise it is left alone (the
functions return None).  Setting ``OPENBLAS_NUM_THREADS`` before NumPy is
imported works too.

Choosing the count.  A run's training arithmetic never depends on the machine's load: the
count of threads a training step uses changes how floating-point sums are split, so two
counts give weights that differ in their last bits.  So by default (``train.threads = 0``)
the count is the usable cores (``training_threads``: the CPUs this process may run on,
``os.sched_getaffinity``, capped by the container's CPU quota, cgroup v2 ``cpu.max`` or v1
``cpu.cfs_quota_us``, shared by the processes of a torchrun job on this machine): the
hardware's, never the load's.  ``config.derive`` records it in the run's ``config.json``, and a
resume reuses it, so the same command gives the same bytes on a quiet or a busy machine.
What may follow the load is only what cannot change the weights: evaluation and sampling
(``LoadFollower``), which choose their threads again at each phase from the load right then.

``train.adaptive_threads`` (``--threads adaptive``) opts into following the load for
training too (``plan_threads``): the usable cores minus what other processes keep busy right
now (the idle share of each usable core, sampled from ``/proc/stat`` over a fifth of a
second, rounded to whole cores, at least 1), adapted during the run.  On a busy machine that
is faster: torch's default is one thread per core, and every parallel region then waits for
its slowest thread; when the scheduler has parked one of them behind another program, each
of the thousands of small regions of a training step waits a scheduler slice.  Such a run
reproduces its bytes only at the same thread counts.

Adapting (``ThreadGovernor``): during training the step times are watched in blocks, and
after each block ``OtherLoad`` reads how many cores other processes kept busy meanwhile
(all CPU time on the usable cores from ``/proc/stat``, minus this process's own).  Our
threads plus the others' cores exceeding the usable cores, or a block much slower than the
best seen at this count, means contention: a block at half the threads is tried and kept if
faster.  When below the maximum and cores look free again, more threads are tried the same
way.  A tried count that is slower is abandoned (after a single step if that step is very
slow), and the next try waits twice as long.

``max_sensible_threads()`` is the cap on an explicit count: ``THREADS_PER_CPU`` per usable
core (a request of 5,000 threads would otherwise hang in thread creation and barriers).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from glassgpt.errors import ConfigError

#: more threads than this many per usable core only adds waiting (5,000 hung; 100,000 crashed torch)
THREADS_PER_CPU = 4

_PREFIXES = ("scipy_openblas_", "openblas_", "scipy_openblas64_", "openblas64_")


@functools.lru_cache(maxsize=1)
def _openblas():
    """(get, set) functions of the OpenBLAS that NumPy loaded, or None."""
    libs = Path(np.__file__).parent.parent / "numpy.libs"
    for path in sorted(libs.glob("*openblas*")) if libs.is_dir() else []:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    return get, put
    return None


def get_blas_threads() -> int | None:
    fns = _openblas()
    if fns:
        return fns[0]()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return counts[0] if counts else None


def set_blas_threads(n: int) -> int | None:
    """Use ``n`` BLAS threads from now on; returns the previous count (None if unknown).
    NumPy's own OpenBLAS is set directly (a call costs microseconds, and the engines switch
    it twice a step); ``threadpoolctl``, which looks at every loaded library on each call,
    only for another BLAS."""
    old = get_blas_threads()
    fns = _openblas()
    if fns:
        fns[1](int(n))
        return old
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return old
    threadpool_limits(limits=int(n), user_api="blas")
    return old


@contextlib.contextmanager
def blas_threads(n: int):
    """``with blas_threads(1): ...`` then back to the previous count."""
    old = set_blas_threads(n)
    try:
        yield
    finally:
        if old is not None:
            set_blas_threads(old)


def check_thread_count(n: int | None, name: str = "--threads") -> None:
    """Refuse a negative count, or more than ``THREADS_PER_CPU`` threads per usable core."""
    if n is None or n == 0:
        return
    limit = max_sensible_threads()
    if n < 0 or n > limit:
        raise ConfigError(
            f"{name} {n} is not a usable thread count: this machine offers {limit // THREADS_PER_CPU} "
            f"CPU core(s), so use 1 to {limit} (or 0 to choose automatically)."
        )


@contextlib.contextmanager
def thread_scope(n: int | None):
    """Use ``n`` torch threads and ``n`` BLAS threads inside the ``with`` block, then restore
    both.  ``n`` of 0 or None changes nothing; an absurd ``n`` is refused (``check_thread_count``)."""
    check_thread_count(n)
    if not n:
        yield
        return
    old_torch = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        with blas_threads(int(n)):
            yield
    finally:
        torch.set_num_threads(old_torch)


def set_threads(n: int) -> None:
    """``n`` torch threads and ``n`` BLAS threads from now on."""
    torch.set_num_threads(int(n))
    set_blas_threads(int(n))


# ---- how many cores are there for us ---------------------------------------------------------


def affinity_cpus() -> list[int]:
    """The CPU ids this process may run on (all of them where the OS has no affinity call)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def cgroup_cpu_limit(
    root: str | Path = "/sys/fs/cgroup", self_cgroup: str | Path = "/proc/self/cgroup"
) -> float | None:
    """The CPU quota of this process's control group in cores (e.g. 1.5), or None when unlimited
    or unknown.  cgroup v2: ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD") in the process's group
    and each group above it (the smallest wins); v1: ``cpu.cfs_quota_us / cpu.cfs_period_us``."""
    root = Path(root)
    limits = []
    try:
        groups = Path(self_cgroup).read_text().splitlines()
    except OSError:
        groups = []
    v2 = next((line.split("::", 1)[1] for line in groups if line.startswith("0::")), None)
    if v2 is not None:
        folder = root / v2.strip().lstrip("/")
        for d in [folder, *folder.parents]:
            if d == root.parent:
                break
            fields_ = _read_words(d / "cpu.max")
            if len(fields_) == 2 and fields_[0] != "max":
                limits.append(_ratio(fields_[0], fields_[1]))
    for d in (root / "cpu,cpuacct", root / "cpu", root):
        quota, period = _read_words(d / "cpu.cfs_quota_us"), _read_words(d / "cpu.cfs_period_us")
        if quota and period and quota[0] != "-1":
            limits.append(_ratio(quota[0], period[0]))
            break
    limits = [x for x in limits if x is not None and x > 0]
    return min(limits) if limits else None


def _read_words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def _ratio(a: str, b: str) -> float | None:
    try:
        return int(a) / int(b)
    except (ValueError, ZeroDivisionError):
        return None


def usable_cpus(cpus: list[int] | None = None, quota: float | None = None) -> int:
    """Cores this process can use: its affinity, capped by the cgroup quota (rounded up)."""
    cpus = affinity_cpus() if cpus is None else cpus
    n = len(cpus)
    if quota is not None:
        n = min(n, max(1, math.ceil(quota - 1e-9)))
    return max(1, n)


@functools.lru_cache(maxsize=1)
def max_sensible_threads() -> int:
    """The most threads worth asking for: ``THREADS_PER_CPU`` per usable core."""
    return THREADS_PER_CPU * usable_cpus(quota=cgroup_cpu_limit())


def cpu_times(stat: str) -> dict[int, tuple[float, float]]:
    """{cpu id: (idle, total)} jiffies from the text of ``/proc/stat`` (idle counts iowait)."""
    out = {}
    for line in stat.splitlines():
        parts = line.split()
        if not parts or not parts[0].startswith("cpu") or parts[0] == "cpu":
            continue
        try:
            values = [float(v) for v in parts[1:9]]
            cpu = int(parts[0][3:])
        except ValueError:
            continue
        values += [0.0] * (8 - len(values))
        out[cpu] = (values[3] + values[4], sum(values))
    return out


def idle_cores(before: str, after: str, cpus: list[int]) -> float | None:
    """How many of ``cpus`` were idle between two ``/proc/stat`` readings (0 … len(cpus)), or None."""
    a, b = cpu_times(before), cpu_times(after)
    shares = []
    for cpu in cpus:
        if cpu in a and cpu in b and b[cpu][1] > a[cpu][1]:
            shares.append(min(1.0, max(0.0, (b[cpu][0] - a[cpu][0]) / (b[cpu][1] - a[cpu][1]))))
    return sum(shares) if shares else None


def measure_idle_cores(cpus: list[int], interval: float = 0.2, stat_path: str | Path = "/proc/stat") -> float | None:
    """Idle cores among ``cpus`` over the next ``interval`` seconds (None where /proc/stat is missing)."""
    try:
        before = Path(stat_path).read_text()
        time.sleep(interval)
        after = Path(stat_path).read_text()
    except OSError:
        return None
    return idle_cores(before, after, cpus)


class OtherLoad:
    """``other_load()``: cores that other processes kept busy on ``cpus`` since the previous
    call (or construction), i.e. all busy time there minus this process's CPU time; None
    where ``/proc/stat`` cannot be read."""

    def __init__(self, cpus: list[int], stat_path: str | Path = "/proc/stat"):
        self.cpus, self.stat_path = cpus, Path(stat_path)
        self._last = self._read()

    def _read(self):
        try:
            stat = self.stat_path.read_text()
        except OSError:
            return None
        own = os.times()
        return stat, own.user + own.system, time.monotonic()

    def __call__(self) -> float | None:
        now, last = self._read(), self._last
        self._last = now
        if now is None or last is None or now[2] <= last[2]:
            return None
        idle = idle_cores(last[0], now[0], self.cpus)
        if idle is None:
            return None
        ours = (now[1] - last[1]) / (now[2] - last[2])
        return max(0.0, len(self.cpus) - idle - ours)


def choose_threads(usable: int, idle: float | None) -> int:
    """The policy: the idle cores, rounded, between 1 and ``usable`` (``usable`` when unknown)."""
    if idle is None:
        return usable
    return max(1, min(usable, int(idle + 0.5)))


@dataclass
class ThreadPlan:
    threads: int  # the count to start with
    most: int  # the most the governor may go up to
    adaptive: bool  # True for "auto": watch the step times and adapt
    reason: str  # one line: how the count was chosen
    watch: list[int] | None = None  # the CPUs whose load tells contention (None: a cgroup quota binds instead)
    more_when_busy: bool = False  # the engine runs one row part per thread: contention calls for more of them

    def governor(self) -> ThreadGovernor | None:
        """The governor that adapts an automatic plan's count to contention (None: a fixed count)."""
        if not self.adaptive:
            return None
        others = OtherLoad(self.watch) if self.watch else None
        return ThreadGovernor(self.threads, self.most, others=others, more_when_busy=self.more_when_busy)

    def summary(self, governor=None) -> dict:
        """``summary.json``'s ``threads``: the plan, and what the governor changed."""
        return {
            "plan": self.reason,
            "start": self.threads,
            "end": governor.current if governor else self.threads,
            "changes": governor.changes if governor else [],
        }


def training_threads(ranks_here: int = 1) -> int:
    """The default count of a run's training threads: this machine's usable cores, shared by
    the ``ranks_here`` processes of a torchrun job on it (see the module docstring)."""
    return max(1, usable_cpus() // max(1, ranks_here))


def plan_threads(
    requested: int,
    measure: Callable[[list[int]], float | None] = measure_idle_cores,
    quota: float | None = -1.0,
    cpus: list[int] | None = None,
    splits_rows: bool = False,
) -> ThreadPlan:
    """The thread count for ``train.threads = requested``: an explicit count (capped at
    ``max_sensible_threads()``) is used as given and never changed; 0 follows the load
    (``--threads adaptive``, see the module docstring).  ``splits_rows``: the engine runs one
    row part per thread (``training.engines.row_parts``), so an adaptive plan starts at the
    usable cores and goes up to twice that when the machine is busy.  ``measure``, ``quota``
    and ``cpus`` are for tests."""
    cpus = affinity_cpus() if cpus is None else cpus
    quota = cgroup_cpu_limit() if quota == -1.0 else quota
    usable = usable_cpus(cpus, quota)
    if requested:
        cap = THREADS_PER_CPU * usable
        n = min(int(requested), cap)
        why = (
            f"{_count(n)} (asked for {requested}; capped at {cap})"
            if n < requested
            else f"{_count(n)} (fixed for the run)"
        )
        return ThreadPlan(n, n, False, why)
    watch = cpus if quota is None or quota >= len(cpus) else None
    cores = f"{usable} usable core{'s' if usable != 1 else ''}"
    if splits_rows:
        most = min(2 * usable, THREADS_PER_CPU * usable)
        why = f"{_count(usable)} (adaptive: {cores}, one row part each, up to {most} when busy; reproducible only at the same counts)"
        return ThreadPlan(usable, most, True, why, watch, more_when_busy=True)
    idle = measure(cpus[:usable] if quota is not None else cpus)
    if quota is not None and idle is not None:
        idle = min(idle, quota)
    n = choose_threads(usable, idle)
    busy = "" if idle is None else f", {idle:.1f} idle"
    why = f"{_count(n)} (adaptive: {cores}{busy}; reproducible only at the same counts)"
    return ThreadPlan(n, usable, True, why, watch)


class LoadFollower:
    """Threads for the work that cannot change the weights (evaluation, sampling, and the
    budget's timing of them), chosen again at each call from the load right then: the cores
    left idle over the next ``interval`` seconds (``measure_idle_cores``), rounded, between 1
    and the usable cores (``choose_threads``; the usable cores when unknown).  A fresh window
    each time: the load since the previous phase (a whole stretch of training) says little
    about now, and right after construction it says nothing.  ``measure`` is for tests."""

    def __init__(self, interval: float = 0.1, measure: Callable[[list[int], float], float | None] = measure_idle_cores):
        self.cpus, self.interval, self.measure = affinity_cpus(), interval, measure
        self.usable = usable_cpus(self.cpus)

    def threads(self) -> int:
        return choose_threads(self.usable, self.measure(self.cpus, self.interval))


# ---- adapting while training -----------------------------------------------------------------


@dataclass
class ThreadGovernor:
    """Watches training step times and changes the thread count when the machine gets busy.

    ``observe(seconds)`` after every training step; it returns a one-line note the first time
    it adapts (None otherwise), and calls ``set_threads(n)`` when it changes the count.
    Steps are judged in blocks of ``window`` (their median, so an odd slow step does not
    count); the first step after a change is not counted (it pays for waking threads).
    After each block ``others()`` (see ``OtherLoad``; None: unknown) gives the cores other
    processes kept busy.
    - contention: more threads than the cores left (``current + others > most + 0.5``), or a
      block slower than ``slowdown`` × the best seen at this count, makes it try
      ``current // 2`` threads for one block;
    - recovery: below ``most``, when cores look free (``current + others < most - 0.5``; when
      ``others`` is unknown, simply every ``cooldown`` blocks) it tries ``2 × current``;
    - a tried count is kept when its block is at least ``gain`` faster than the block before
      it, and abandoned at once if a single step takes ``abort`` × the block before; after
      an abandoned try the next one waits ``cooldown`` blocks, doubled each time.
    ``more_when_busy`` (an engine that runs one row part per thread, whose parts wait for no
    parked thread): the other way round.  The count starts at ``most // 2`` (the usable
    cores); other load, or a slowed block, makes it try ``2 × current`` (up to ``most``), and
    cores free again make it try half, down to the start."""

    current: int
    most: int
    set_threads: Callable[[int], None] = set_threads
    others: Callable[[], float | None] | None = None
    window: int = 6
    slowdown: float = 1.5
    gain: float = 0.1
    abort: float = 3.0
    cooldown: int = 10
    more_when_busy: bool = False
    changes: list = field(default_factory=list)  # (step, threads) for every kept change
    steps: int = 0
    _block: list = field(default_factory=list)
    _best: dict = field(default_factory=dict)
    _trial_from: int | None = None
    _before: float = 0.0
    _skip: int = 1
    _wait: int = 0
    _backoff: int = 0
    _noted: bool = False

    def observe(self, seconds: float) -> str | None:
        self.steps += 1
        if self._trial_from is not None and seconds > self.abort * self._before:
            return self._end_trial(keep=False)
        if self._skip:
            self._skip -= 1
            return None
        self._block.append(seconds)
        if len(self._block) < self.window:
            return None
        median, self._block = statistics.median(self._block), []
        others = self.others() if self.others is not None else None
        if self._trial_from is not None:
            return self._end_trial(keep=median < (1.0 - self.gain) * self._before, median=median)
        self._best[self.current] = min(self._best.get(self.current, math.inf), median)
        if self._wait:
            self._wait -= 1
            return None
        slowed = median > self.slowdown * self._best[self.current]
        if self.more_when_busy:
            busy, start = (others is not None and others > 0.5) or slowed, max(1, self.most // 2)
            if self.current < self.most and busy:
                self._start_trial(min(self.most, 2 * self.current), median)
            elif self.current > start and not busy and others is not None:
                self._start_trial(max(start, self.current // 2), median)
            return None
        crowded = others is not None and self.current + others > self.most + 0.5
        free = others is None or self.current + others < self.most - 0.5  # unknown: try; the back-off keeps it rare
        if self.current > 1 and (crowded or slowed):
            self._start_trial(max(1, self.current // 2), median)
        elif self.current < self.most and free:
            self._start_trial(min(self.most, 2 * self.current), median)
        return None

    def _start_trial(self, n: int, median: float) -> None:
        self._trial_from, self._before = self.current, median
        self._switch(n)

    def _end_trial(self, keep: bool, median: float | None = None) -> str | None:
        tried, before = self.current, self._before
        self._trial_from, old = None, self._trial_from
        self._block = []
        if keep:
            self._best[tried] = median
            self._backoff = 0
            self._wait = self.cooldown  # settle before trying the other way
            self.changes.append((self.steps, tried))
            if not self._noted:
                self._noted = True
                return (
                    f"threads: {old} → {tried} (steps took {before * 1000:.0f} ms at {old}, "
                    f"{median * 1000:.0f} ms at {tried}: {'the machine is busy' if (tried > old) == self.more_when_busy else 'cores came free'})"
                )
            return None
        self._switch(old)
        self._backoff = min(self._backoff + 1, 6)
        self._wait = self.cooldown * 2 ** (self._backoff - 1)
        return None

    def _switch(self, n: int) -> None:
        self.current = n
        self.set_threads(n)
        self._skip = 1


def _count(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"
