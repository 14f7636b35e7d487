"""Peak resident memory of ``glassgpt train`` against a bare training loop of the same shape.

Two recipes, each run twice, every run a fresh process stopped after ``--steps`` steps, all in
one invocation, the two kinds alternating (glassgpt, bare, glassgpt, bare; the figure is each
kind's larger peak):

- ``anchor``: the minimal trainer's CPU recipe (``launcher.ANCHOR``: 4 layers, 4 heads, width
  128, context 64, batch 12, AdamW, evaluation every 250 steps on 20 batches) as
  ``glassgpt train --preset baby --set ...``, against the bare loop of that shape;
- ``cpu-speedrun``: ``glassgpt train --preset cpu-speedrun`` with its step count fixed (no
  time budget, the schedule on the step clock), against the bare loop of its shape (AdamW
  where the preset uses Muon for the blocks' matrices: at this size both hold well under
  1 MB of state).

The bare loop (``--bare RECIPE``, written here) is what a minimal trainer does: read
``tinyshakespeare.txt``, map its characters to ids with NumPy, keep the first 90% for
training, draw random windows, forward, backward, AdamW in float32, and every
``train.eval_every`` steps the mean loss of ``train.eval_batches`` batches of each split; no
checkpoints, logs, progress bar or final evaluation.  It builds the same GPT
(``glassgpt.models.GPT``) from the recipe's model settings.

Both kinds run on ``--threads`` threads (default 2) with ``GLASSGPT_REPORT=0`` (no figures
drawn after training, as in ``speedrun_cpu.py``).  The peak is the child's ``ru_maxrss`` from
``os.wait4``.  Prints ONE JSON line: per recipe the two peaks in MB, the ratio glassgpt / bare
and the wall seconds; and the load (``os.getloadavg()``) after each part.

    python benchmarks/peak_memory.py --data /path/to/folder [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from launcher import ANCHOR, bench_data, glassgpt_command, overrides_args

#: each recipe: the preset and the settings of ``glassgpt train``; the bare loop reads its shape from the same
RECIPES = {
    "anchor": ("baby", ANCHOR),
    "cpu-speedrun": ("cpu-speedrun", {"train.time_budget": 0, "train.schedule_clock": "steps"}),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    p.add_argument("--steps", type=int, default=300, help="training steps of every run")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated: anchor, cpu-speedrun")
    p.add_argument("--bare", choices=sorted(RECIPES), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def recipe_config(name: str, steps: int):
    """The recipe's ``RunConfig`` with its step count fixed (the bare loop's shape and settings)."""
    from glassgpt.config import resolve

    preset, settings = RECIPES[name]
    return resolve(preset, overrides={**settings, "train.max_steps": steps})


# ---- the bare loop (a child process) -------------------------------------------------------------


def bare_loop(args) -> None:
    """A minimal trainer: NumPy reads the data, a plain loop trains, nothing else."""
    import numpy as np
    import torch

    from glassgpt.models import GPT

    torch.set_num_threads(args.threads)
    torch.manual_seed(1337)
    cfg = recipe_config(args.bare, args.steps)
    raw = np.frombuffer((bench_data(args.data) / "tinyshakespeare.txt").read_bytes(), dtype=np.uint8)
    chars, ids = np.unique(raw, return_inverse=True)  # the character vocabulary, sorted
    ids = ids.astype(np.uint16)
    split = int(0.9 * len(ids))
    splits = {"train": ids[:split], "val": ids[split:]}
    t = cfg.train
    T = t.seq_len or cfg.model.block_size
    model = GPT(cfg.updated({"model.vocab_size": len(chars)}).model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps, weight_decay=t.weight_decay
    )

    def batch(part: str):
        data = splits[part]
        starts = torch.randint(len(data) - T - 1, (t.batch_size,)).tolist()
        x = torch.from_numpy(np.stack([data[i : i + T] for i in starts]).astype(np.int64))
        y = torch.from_numpy(np.stack([data[i + 1 : i + 1 + T] for i in starts]).astype(np.int64))
        return x, y

    for step in range(t.max_steps):
        if t.eval_every and step > 0 and step % t.eval_every == 0:
            model.eval()
            with torch.no_grad():
                for part in splits:
                    sum(float(model(*batch(part))[1]) for _ in range(t.eval_batches))
            model.train()
        _, loss = model(*batch("train"))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        optimizer.step()


# ---- the parent ----------------------------------------------------------------------------------


def peak_of(command: list[str], env: dict) -> tuple[float, float]:
    """Run ``command`` to the end; (its peak RSS in MB from ``wait4``, wall seconds)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{' '.join(command[:4])} ... failed:\n{err.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def glassgpt_run(name: str, args, folder: Path) -> list[str]:
    preset, settings = RECIPES[name]
    out = folder / name
    shutil.rmtree(out, ignore_errors=True)
    return glassgpt_command() + [
        "train",
        "--preset",
        preset,
        "--data",
        str(bench_data(args.data) / "tinyshakespeare.txt"),
        "--tokenizer",
        "char",
        "--threads",
        str(args.threads),
        "--out",
        str(out),
        "--quiet",
        *overrides_args({**settings, "train.max_steps": args.steps}),
    ]


def bare_run(name: str, args) -> list[str]:
    command = [sys.executable, __file__, "--bare", name, "--steps", str(args.steps), "--threads", str(args.threads)]
    return command + ["--data", str(bench_data(args.data))]


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.bare:
        return bare_loop(args)
    env = {**os.environ, "GLASSGPT_REPORT": "0"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in filter(None, args.recipes.split(",")):
            runs: dict[str, list[tuple[float, float]]] = {"glassgpt": [], "bare": []}
            for _ in range(2):
                runs["glassgpt"].append(peak_of(glassgpt_run(name, args, Path(tmp)), env))
                runs["bare"].append(peak_of(bare_run(name, args), env))
            peak = {kind: max(mb for mb, _ in measured) for kind, measured in runs.items()}
            results[name] = {
                "glassgpt_peak_mb": round(peak["glassgpt"], 1),
                "bare_peak_mb": round(peak["bare"], 1),
                "ratio": round(peak["glassgpt"] / peak["bare"], 3),
                "glassgpt_peaks_mb": [round(mb, 1) for mb, _ in runs["glassgpt"]],
                "bare_peaks_mb": [round(mb, 1) for mb, _ in runs["bare"]],
                "glassgpt_wall_s": [round(s, 1) for _, s in runs["glassgpt"]],
                "bare_wall_s": [round(s, 1) for _, s in runs["bare"]],
                "load_after": [round(v, 2) for v in os.getloadavg()],
            }
    print(
        json.dumps(
            {
                "benchmark": "peak_memory",
                "data": "tinyshakespeare.txt",
                "steps": args.steps,
                "threads": args.threads,
                "memory_method": "ru_maxrss of each child process from os.wait4",
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
