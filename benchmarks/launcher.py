"""What the CPU speed benchmarks share: their data folder, `glassgpt train` launched as a real
process (so "from process launch" is literal), busy-spinning load, FLOP counts and the
matmul reference.  Imported by ``speedrun_cpu.py``, ``busy_cpu.py`` and ``speedrun_search.py``
(run them as scripts: ``python benchmarks/speedrun_cpu.py``; this folder is then on ``sys.path``).

Data: ``--data FOLDER`` or the environment variable ``GLASSGPT_BENCH_DATA``, a folder that
holds ``tinyshakespeare.txt`` (and ``names.txt``); nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from glassgpt.config import RunConfig
from glassgpt.training.flops import flops_per_token

DATA_ENV = "GLASSGPT_BENCH_DATA"

#: the minimal trainer's CPU recipe that the speedrun measures itself against: 4 layers, 4 heads,
#: width 128, context 64, batch 12, 2,000 steps, lr 1e-3 cosine (warmup 100, floor 1e-4),
#: betas (0.9, 0.99), weight decay 0.1, clip 1.0, no dropout, no biases, tied head; it
#: evaluates every 250 steps on 20 batches and has no time limit
ANCHOR = {
    "model.n_layer": 4,
    "model.n_head": 4,
    "model.n_embd": 128,
    "model.block_size": 64,
    "model.dropout": 0.0,
    "model.bias": False,
    "model.qkv_bias": False,
    "train.batch_size": 12,
    "train.max_steps": 2000,
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 100,
    "train.min_lr_ratio": 0.1,
    "train.beta2": 0.99,
    "train.weight_decay": 0.1,
    "train.grad_clip": 1.0,
    "train.eval_every": 250,
    "train.eval_batches": 20,
    "train.time_budget": 0,
}


def bench_data(folder: str | None, needed: tuple[str, ...] = ("tinyshakespeare.txt",)) -> Path:
    """The benchmark data folder, or exit with one sentence saying what is missing."""
    folder = folder or os.environ.get(DATA_ENV)
    if not folder:
        sys.exit(
            f"error: give the data folder with --data FOLDER or the environment variable {DATA_ENV} "
            f"(a folder holding {', '.join(needed)})."
        )
    missing = [name for name in needed if not (Path(folder) / name).is_file()]
    if missing:
        sys.exit(
            f"error: {Path(folder) / missing[0]} does not exist; the benchmark data folder must hold "
            f"{', '.join(needed)}."
        )
    return Path(folder)


def glassgpt_command() -> list[str]:
    """``glassgpt`` of this environment (the console script, or ``python -m glassgpt.cli``)."""
    exe = Path(sys.executable).with_name("glassgpt")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from glassgpt.cli import main; sys.exit(main())"]


def overrides_args(settings: dict) -> list[str]:
    """``--set key=value`` arguments (lists joined with |, booleans as true/false)."""
    out = []
    for key, value in settings.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = "|".join(value)
        out += ["--set", f"{key}={value}"]
    return out


@dataclass
class Run:
    """One finished (or stopped) `glassgpt train` process."""

    name: str
    seed: int
    out: Path
    launched_unix: float
    wall_s: float  # from launch to exit
    returncode: int | None  # None: killed at the time limit
    summary: dict = field(default_factory=dict)
    metrics: list = field(default_factory=list)
    stderr_tail: str = ""

    @property
    def config(self) -> dict:
        path = self.out / "config.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def final_loss(self) -> float | None:
        return (self.summary.get("final") or {}).get("val_loss")

    @property
    def tokens_per_sec(self) -> float | None:
        """Training tokens per second of training time (periodic evaluations included)."""
        if self.summary.get("budget"):
            return self.summary["tokens"] / max(self.summary["budget"]["training_s"], 1e-9)
        last = next((r for r in reversed(self.metrics) if "tokens" in r and r.get("elapsed_s")), None)
        return last["tokens"] / last["elapsed_s"] if last else None

    def curve(self, key: str = "val_loss") -> list[tuple[float, float]]:
        """(seconds since launch, value) of every metrics record with ``key``; the final
        full evaluation is added at the exit time for ``val_loss``."""
        start = (self.summary.get("budget") or {}).get("started_unix")
        offset = (
            (start - self.launched_unix)
            if start
            else self.wall_s - (self.metrics[-1]["elapsed_s"] if self.metrics else 0.0)
        )
        points = [(offset + r["elapsed_s"], r[key]) for r in self.metrics if key in r and "elapsed_s" in r]
        if key == "val_loss" and self.final_loss is not None:
            points.append((self.wall_s, self.final_loss))
        return points

    def loss_at(self, seconds: float) -> float | None:
        """The last validation figure reached by ``seconds`` after launch (None if none yet)."""
        seen = [v for t, v in self.curve() if t <= seconds]
        return seen[-1] if seen else None

    def record(self) -> dict:
        budget = self.summary.get("budget") or {}
        return {
            "name": self.name,
            "seed": self.seed,
            "wall_s": round(self.wall_s, 2),
            "returncode": self.returncode,
            "val_loss": self.final_loss,
            "steps": self.summary.get("steps"),
            "tokens_per_sec": round(self.tokens_per_sec) if self.tokens_per_sec else None,
            "final_eval_s": budget.get("final_eval_s"),
            "predicted_final_eval_s": budget.get("predicted_final_eval_s"),
            "threads": self.summary.get("threads"),
        }


def launch_train(
    name: str, args: list[str], out: Path, seed: int = 1337, timeout: float | None = None, env: dict | None = None
) -> Run:
    """Run ``glassgpt train ARGS --out OUT --seed SEED --quiet --json`` to the end (or kill it
    after ``timeout`` seconds) and read what it wrote.  The run folder is replaced."""
    if out.exists():
        shutil.rmtree(out)
    command = glassgpt_command() + ["train", *args, "--out", str(out), "--seed", str(seed), "--quiet", "--json"]
    environment = {**os.environ, "GLASSGPT_REPORT": "0", **(env or {})}
    launched = time.time()
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        _, err = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        code = None
    wall = time.perf_counter() - start
    summary_path, metrics_path = out / "summary.json", out / "metrics.jsonl"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    metrics = [json.loads(line) for line in metrics_path.read_text().splitlines()] if metrics_path.is_file() else []
    return Run(name, seed, out, launched, wall, code, summary, metrics, (err or "")[-2000:])


# ---- load ---------------------------------------------------------------------------------------


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def spinners(n: int):
    """``n`` processes that each keep one core busy, for the duration of the block."""
    procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        time.sleep(0.5)  # let the scheduler see them
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join()


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# ---- FLOPs --------------------------------------------------------------------------------------


def training_flops_per_token(config: dict) -> float:
    """Training FLOPs per token of a run's ``config.json``: the library's 6N + 12·L·H·Q·T
    (``glassgpt.training.flops``, the figure a run's metrics report MFU from)."""
    cfg = RunConfig.from_dict(config)
    return flops_per_token(cfg.model, cfg.train.seq_len or cfg.model.block_size)


def matmul_gflops(threads: int, size: int = 1024, seconds: float = 2.0) -> float:
    """The best float32 matmul rate (GFLOP/s) of ``size``³ products on ``threads`` torch
    threads over about ``seconds`` (the reference the training rate is a share of)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        a @ b
        best, end = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            a @ b
            best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
        return best
    finally:
        torch.set_num_threads(old)


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std
