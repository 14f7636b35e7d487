"""Glass (NumPy, hand-written gradients) vs torch eager: one training step of the ``baby`` GPT.

Workload: the ``baby`` preset (4 layers, 4 heads, width 128, context 64), batch 12 x 64
tokens, on the 65-symbol character vocabulary of Tiny Shakespeare, read from
``tinyshakespeare.txt`` in the benchmark data folder (``--data FOLDER`` or
``$GLASSGPT_BENCH_DATA``, see ``launcher.py``) (``--synthetic``:
random tokens over 65 symbols instead, for machines without that file).  One step =
forward + backward + gradient clipping + AdamW, through each engine's ``train_step``, both
engines starting from the same weights and fed the same batches, in blocks A B A B ...
(``--blocks`` of each; each block: ``--warmup`` untimed steps, then its share of the timed
ones) so a change in machine load or clock speed hits both alike and neither engine's idle
thread pool spins during the other's steps.  (A 2-core cloud machine runs the first seconds of
full load about 20% faster than the rest, so a comparison needs the blocks interleaved finely.)  Single process, ``--threads`` threads (default 2)
for both torch and NumPy's BLAS.

Prints ONE JSON line:

- ``glass_ms_per_step`` / ``torch_ms_per_step``: median over ``--steps`` timed steps (after
  ``--warmup``), and ``ratio`` = glass / torch (target <= 1.5);
- ``glass_peak_mb`` / ``torch_peak_mb``: growth of resident memory while building the engine
  and training: the peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` after the
  imports and the data) minus the RSS at that moment, each engine in its OWN fresh
  subprocess (``memory_method`` says which counter was used); plus ``glass_tracemalloc_peak_mb``, the peak of NumPy's
  own allocations during one step (NumPy reports to ``tracemalloc``; torch does not);
- ``glass_matmul_share``: the share of glass step time spent inside ``np.matmul``,
  measured on extra steps with ``np.matmul`` swapped for a timed wrapper (every glass
  layer multiplies through ``np.matmul``) that counts the calling thread's products (with
  two threads the engine runs one part of the rows on it and the other on a second core,
  so its share stands for both), and ``glass_other_share`` = 1 - that;
- ``glass_faults_per_step`` / ``torch_faults_per_step``: median minor page faults of a timed
  step (memory the allocator gave back to the kernel and the step touched again; see
  ``glassgpt/glass/heap.py``), and ``load_after``, ``os.getloadavg()`` at the end.

Usage:  python benchmarks/glass_vs_torch.py [--steps 30] [--threads 2] [--synthetic]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from launcher import bench_data  # the benchmark data folder (--data or $GLASSGPT_BENCH_DATA)

from glassgpt.threads import set_blas_threads

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=30, help="timed steps per engine")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per engine first")
    p.add_argument("--blocks", type=int, default=6, help="alternating blocks of each engine")
    p.add_argument("--threads", type=int, default=2, help="threads for torch and for NumPy's BLAS")
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--synthetic", action="store_true", help="random tokens over 65 symbols instead of Tiny Shakespeare")
    p.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    p.add_argument("--memory-child", choices=["glass", "torch"], help=argparse.SUPPRESS)
    return p.parse_args(argv)


def set_threads(n: int) -> None:
    """Before NumPy or torch is imported: the BLAS libraries read these once."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def load_tokens(synthetic: bool, data: str | None = None):
    import numpy as np

    if synthetic:
        return np.random.default_rng(0).integers(0, 65, 200_000).astype(np.uint16), 65, "synthetic"
    shakespeare = bench_data(data) / "tinyshakespeare.txt"
    raw = np.frombuffer(shakespeare.read_text(encoding="utf-8").encode("utf-8"), dtype=np.uint8)
    if raw.size and raw.max() >= 128:
        sys.exit(f"{shakespeare} is not the ASCII Tiny Shakespeare; pass --synthetic")
    chars, ids = np.unique(raw, return_inverse=True)  # sorted characters -> ids 0..64, like CharTokenizer
    return ids.astype(np.uint16), len(chars), "tinyshakespeare"


def make_config(vocab: int, args):
    from glassgpt.config import resolve

    cfg = resolve(
        "baby", overrides={"train.batch_size": args.batch_size, "train.seq_len": args.seq_len, "train.device": "cpu"}
    )
    cfg = cfg.updated({"model.vocab_size": vocab})
    return cfg


def batches(tokens, args, n: int):
    from glassgpt.data.loader import BatchLoader

    loader = BatchLoader(tokens, args.seq_len, 1337)
    return [loader.next(args.batch_size) for _ in range(n)]


def memory_child(args) -> None:
    """Run in a fresh process: peak RSS growth of one engine over warmup + steps."""
    import gc

    import torch

    torch.set_num_threads(args.threads)
    set_blas_threads(args.threads)  # NumPy may be loaded already (the environment is read once)
    from glassgpt.training.engines import GlassEngine, TorchEngine

    tokens, vocab, _ = load_tokens(args.synthetic, args.data)
    cfg = make_config(vocab, args)
    data = batches(tokens, args, args.warmup + args.steps)
    gc.collect()
    base = reset_peak_rss()
    engine = (GlassEngine if args.memory_child == "glass" else TorchEngine)(cfg)
    for x, y in data:
        engine.train_step([(x, y)], 1e-3)
    print(json.dumps({"peak_mb": (peak_rss_kib() - base) / 1024, "method": PEAK_METHOD[0]}))


PEAK_METHOD = ["VmHWM after a reset through /proc/self/clear_refs, minus VmRSS at the reset"]


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> int:
    """Reset the peak-RSS counter (Linux >= 4.0) and return the current RSS in KiB; elsewhere
    fall back to the ru_maxrss high-water mark so far."""
    import resource

    try:
        Path("/proc/self/clear_refs").write_text("5")
        rss = _status_kib("VmRSS")
        if rss is not None:
            return rss
    except OSError:
        pass
    PEAK_METHOD[0] = "ru_maxrss growth (high-water mark, no reset available)"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss_kib() -> int:
    import resource

    hwm = _status_kib("VmHWM") if PEAK_METHOD[0].startswith("VmHWM") else None
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def minor_faults() -> int:
    """Page faults of this process so far that the kernel served without disk I/O (a page
    mapped afresh, e.g. memory freed to the kernel and touched again)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def peak_rss_mb(engine: str, args) -> tuple[float, str]:
    cmd = [
        sys.executable,
        __file__,
        "--memory-child",
        engine,
        "--steps",
        str(min(args.steps, 10)),
        "--warmup",
        str(args.warmup),
        "--threads",
        str(args.threads),
        "--batch-size",
        str(args.batch_size),
        "--seq-len",
        str(args.seq_len),
    ] + (["--synthetic"] if args.synthetic else ["--data", str(bench_data(args.data))])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["peak_mb"], result["method"]


def main(argv=None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    if args.memory_child:
        return memory_child(args)

    import statistics
    import tracemalloc

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    set_blas_threads(args.threads)  # NumPy may be loaded already (the environment is read once)
    from glassgpt.training.engines import GlassEngine, TorchEngine

    tokens, vocab, source = load_tokens(args.synthetic, args.data)
    cfg = make_config(vocab, args)
    glass, eager = GlassEngine(cfg), TorchEngine(cfg)
    data = batches(tokens, args, args.warmup + args.steps)
    times = {"glass": [], "torch": []}
    faults = {"glass": [], "torch": []}
    losses = {"glass": [], "torch": []}
    # blocks A B A B: each engine runs alone for a while (a BLAS or OpenMP pool keeps spinning
    # for a moment after its work, which would slow the other engine if steps alternated),
    # and a drift in machine load still hits both
    per_block = -(-args.steps // args.blocks)
    for block in range(args.blocks):
        timed = data[args.warmup + block * per_block : args.warmup + (block + 1) * per_block]
        for name, engine in (("glass", glass), ("torch", eager)):
            for i, (x, y) in enumerate(data[: args.warmup] + timed):  # both engines: the same batch sequence
                f0, t0 = minor_faults(), time.perf_counter()
                loss = engine.train_step([(x, y)], 1e-3).loss
                dt, df = time.perf_counter() - t0, minor_faults() - f0
                if i >= args.warmup:
                    times[name].append(dt)
                    faults[name].append(df)
                losses[name].append(loss)

    # where the glass time goes: np.matmul vs everything else
    matmul, spent = [0.0], 0.0
    real = np.matmul

    caller = threading.main_thread()

    def timed_matmul(*a, **k):
        t0 = time.perf_counter()
        r = real(*a, **k)
        if threading.current_thread() is caller:
            matmul[0] += time.perf_counter() - t0
        return r

    np.matmul = timed_matmul
    try:
        for x, y in data[: min(10, len(data))]:
            t0 = time.perf_counter()
            glass.train_step([(x, y)], 1e-3)
            spent += time.perf_counter() - t0
    finally:
        np.matmul = real

    tracemalloc.start()
    x, y = data[0]
    glass.train_step([(x, y)], 1e-3)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    g_ms = statistics.median(times["glass"]) * 1e3
    t_ms = statistics.median(times["torch"]) * 1e3
    share = matmul[0] / spent
    (g_mem, method), (t_mem, _) = peak_rss_mb("glass", args), peak_rss_mb("torch", args)
    print(
        json.dumps(
            {
                "benchmark": "glass_vs_torch",
                "preset": "baby",
                "data": source,
                "vocab": vocab,
                "batch_size": args.batch_size,
                "seq_len": args.seq_len,
                "threads": args.threads,
                "steps": args.steps,
                "params": glass.model.num_params(),
                "glass_ms_per_step": round(g_ms, 2),
                "torch_ms_per_step": round(t_ms, 2),
                "ratio": round(g_ms / t_ms, 3),
                "glass_min_ms": round(min(times["glass"]) * 1e3, 2),
                "torch_min_ms": round(min(times["torch"]) * 1e3, 2),
                "glass_faults_per_step": statistics.median(faults["glass"]),
                "torch_faults_per_step": statistics.median(faults["torch"]),
                "load_after": [round(v, 2) for v in os.getloadavg()],
                "max_loss_diff": float(max(abs(a - b) for a, b in zip(losses["glass"], losses["torch"]))),
                "glass_peak_mb": round(g_mem, 1),
                "torch_peak_mb": round(t_mem, 1),
                "memory_method": f"peak RSS growth over imports+data ({method}), each engine in its own subprocess",
                "glass_tracemalloc_peak_mb": round(traced_peak / 2**20, 1),
                "glass_matmul_share": round(share, 3),
                "glass_other_share": round(1 - share, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
