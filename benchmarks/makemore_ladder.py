"""The makemore ladder on names.txt, every rung trained by `glassgpt train` as a real process,
side by side with the figures the lectures published.

    python benchmarks/makemore_ladder.py --data FOLDER            # the full ladder (hours of CPU)
    python benchmarks/makemore_ladder.py --data FOLDER --quick    # the -fast presets: a few minutes
    python benchmarks/makemore_ladder.py --only mlp,wavenet       # some rows (names or presets)

FOLDER (or $GLASSGPT_BENCH_DATA) holds names.txt.  Each row is one preset (``makemore-*``,
``--quick``: its ``-fast`` variant) run as ``glassgpt train --preset P --data names.txt`` with
one thread (``--threads``), the end-of-run report off.  A row records the train, dev and test
loss from the run's ``summary.json``, the parameter count, the steps, the wall time and the
CPU seconds of the process (user + system, from ``wait4``), and the published figure with the
difference on the split it was published for ("all bigrams" is compared with our training
split, the closest a split run has).

Row by row: every finished row is appended to ``OUT/results.jsonl`` (default
``benchmarks/out/makemore_ladder`` or ``..._quick``) and skipped by the next invocation
(``--again`` reruns it), so the full ladder can be run in pieces and resumed after a stop.
At the end: one JSON line (the rows in ladder order) and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from launcher import bench_data, glassgpt_command

from glassgpt.config import resolve
from glassgpt.makemore.presets import PUBLISHED
from glassgpt.models.footprint import parameter_count

#: (row name, preset), in ladder order
ROWS = [
    ("bigram", "makemore-bigram"),
    ("neural-bigram", "makemore-neural-bigram"),
    ("mlp", "makemore-mlp"),
    ("mlp + fixes", "makemore-mlp-fixes"),
    ("mlp + BatchNorm", "makemore-mlp-bn"),
    ("wavenet", "makemore-wavenet"),
    ("wavenet scaled", "makemore-wavenet-scaled"),
    ("gpt", "makemore-gpt"),
    ("tuned", "makemore-tuned"),
]
#: the tuned preset has no fast variant (it is the budget): --quick leaves it out
QUICK_SKIP = {"makemore-tuned"}
DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def run_row(name: str, preset: str, data: Path, out: Path, threads: int) -> dict:
    """Train one preset as its own process and read back what it wrote."""
    run_dir = out / "runs" / preset
    command = glassgpt_command() + [
        "train",
        "--preset",
        preset,
        "--data",
        str(data),
        "--out",
        str(run_dir),
        "--overwrite",
        "--quiet",
        "--json",
        "--threads",
        str(threads),
    ]
    env = {**os.environ, "GLASSGPT_REPORT": "0"}
    before, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - start, round(_children_cpu() - before, 1)
    stdout, stderr = proc.stdout, proc.stderr
    if proc.returncode != 0:
        return {"name": name, "preset": preset, "error": (stderr or stdout).strip().splitlines()[-1:]}
    summary = json.loads((run_dir / "summary.json").read_text())
    cfg = json.loads((run_dir / "config.json").read_text())
    config = resolve(preset, overrides={"model.vocab_size": cfg["model"]["vocab_size"]})
    splits = {k: round(v["loss"], 4) for k, v in summary["final"]["splits"].items()}
    split, value, text = PUBLISHED[preset.removesuffix("-fast")]
    measured = splits["train" if split == "all" else split]
    return {
        "name": name,
        "preset": preset,
        **splits,
        "parameters": parameter_count(config.model),
        "steps": summary["steps"],
        "wall_s": round(wall, 1),
        "cpu_s": cpu,
        "published": text,
        "published_split": split,
        "published_value": value,
        "difference": round(measured - value, 4),
    }


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def markdown(rows: list[dict], quick: bool) -> str:
    head = (
        "| rung | preset | parameters | steps | train | dev | test | published | Δ on its split | CPU s |\n"
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"
    )
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | {r['preset']} | failed: {' '.join(r['error'])} |||||||")
            continue
        lines.append(
            f"| {r['name']} | `{r['preset']}` | {r['parameters']:,} | {r['steps']:,} | {r['train']:.4f} | "
            f"{r['dev']:.4f} | {r['test']:.4f} | {r['published']} | {r['difference']:+.4f} | {r['cpu_s']:.0f} |"
        )
    note = "quick: the -fast presets, not the published recipes" if quick else "the published recipes"
    return "\n".join(lines) + f"\n\n({note}; one thread; measured on {platform.node() or 'this machine'})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="folder with names.txt (default: $GLASSGPT_BENCH_DATA)")
    p.add_argument("--quick", action="store_true", help="the -fast presets (a few minutes in all)")
    p.add_argument("--only", help="comma-separated row names or presets to run")
    p.add_argument("--out", help="folder for the runs and results.jsonl")
    p.add_argument("--again", action="store_true", help="rerun rows already in results.jsonl")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    args = p.parse_args(argv)
    data = bench_data(args.data, ("names.txt",)) / "names.txt"
    out = Path(args.out) if args.out else DEFAULT_OUT / ("makemore_ladder_quick" if args.quick else "makemore_ladder")
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    done = {r["preset"]: r for r in map(json.loads, results.read_text().splitlines())} if results.is_file() else {}
    wanted = set(args.only.split(",")) if args.only else None
    rows = []
    for name, preset in ROWS:
        if args.quick and preset in QUICK_SKIP:
            continue
        preset = preset + "-fast" if args.quick else preset
        if wanted and not wanted & {name, preset, preset.removesuffix("-fast")}:
            if preset in done:
                rows.append(done[preset])
            continue
        if preset in done and not args.again:
            rows.append(done[preset])
            continue
        print(f"{name}: training {preset} ...", file=sys.stderr, flush=True)
        row = run_row(name, preset, data, out, args.threads)
        print(json.dumps(row), file=sys.stderr, flush=True)
        with results.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        rows.append(row)
    print(
        json.dumps(
            {
                "benchmark": "makemore_ladder",
                "quick": args.quick,
                "threads": args.threads,
                "machine": platform.platform(),
                "rows": rows,
            }
        )
    )
    print(markdown(rows, args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
