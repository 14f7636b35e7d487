"""The honest recipe search: every candidate trained for the same wall-clock budget, from process
launch, on Tiny Shakespeare, each result appended to a table as soon as it is known.

A candidate is a name, a preset and ``--set`` overrides.  The candidates come from
``--grid FILE.json`` or the built-in ``CANDIDATES`` (single changes from the ``baby``
preset, then combinations).  A grid file holds

    {"base": {"preset": "baby", "set": {"train.batch_size": 16}},
     "candidates": [{"name": "rope", "set": {"model.pos": "rope"}}, ...],
     "axes": {"train.lr": [0.002, 0.004], "model.n_layer": [4, 6]}}

where ``axes`` (optional) adds every combination of the listed values, on top of the base.
Each candidate runs for ``--seeds`` seeds as a real ``glassgpt train`` process (see
``speedrun_cpu.py`` for what counts), one at a time.  Results are appended to the JSONL
``--table`` (one line per run: name, seed, budget, settings, final validation loss, wall
time from launch, steps, tokens/s, threads); a run already in the table (same name, seed,
budget and settings) is skipped, so an interrupted search resumes where it stopped.
At the end the table is printed in Markdown, best mean loss first (runs over the budget
are marked and ranked last), and ONE JSON line summarises it.

    GLASSGPT_BENCH_DATA=/path/to/folder python benchmarks/speedrun_search.py --table runs/search.jsonl
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
from pathlib import Path

from launcher import bench_data, launch_train, mean_std, overrides_args

NO_BIAS = {"model.bias": False, "model.qkv_bias": False}
#: the schedule follows the time budget (a step count that fits the budget is not known in advance)
TIME_CLOCK = {"train.schedule_clock": "time", "train.max_steps": 1_000_000}
MODERN = {
    "model.pos": "rope",
    "model.norm": "rmsnorm",
    "model.activation": "relu2",
    "model.qk_norm": True,
    "model.zero_init_proj": True,
    **NO_BIAS,
}

#: a starting sequence: the baseline, one change at a time, then combinations
CANDIDATES = [
    {"name": "baby", "set": {}},
    {"name": "lr-3e-3", "set": {"train.lr": 3e-3}},
    {"name": "batch-16", "set": {"train.batch_size": 16}},
    {"name": "no-bias", "set": NO_BIAS},
    {"name": "rope", "set": {"model.pos": "rope"}},
    {"name": "rmsnorm", "set": {"model.norm": "rmsnorm"}},
    {"name": "relu2", "set": {"model.activation": "relu2"}},
    {"name": "qk-norm", "set": {"model.qk_norm": True}},
    {"name": "zero-init", "set": {"model.zero_init_proj": True}},
    {"name": "softcap-15", "set": {"model.logit_softcap": 15.0}},
    {"name": "untied", "set": {"model.tie_weights": False}},
    {"name": "wsd", "set": {"train.schedule": "wsd", "train.decay_fraction": 0.3, "train.min_lr_ratio": 0.0}},
    {"name": "cosine-time", "set": TIME_CLOCK},
    {
        "name": "wsd-time",
        "set": {**TIME_CLOCK, "train.schedule": "wsd", "train.decay_fraction": 0.3, "train.min_lr_ratio": 0.0},
    },
    {"name": "muon", "set": {"train.optimizer": "muon"}},
    {"name": "modern", "set": MODERN},
    {
        "name": "modern-muon-wsd-time",
        "set": {
            **MODERN,
            **TIME_CLOCK,
            "train.optimizer": "muon",
            "train.schedule": "wsd",
            "train.decay_fraction": 0.3,
            "train.min_lr_ratio": 0.0,
        },
    },
]


def load_grid(path: str | None) -> tuple[str, dict, list[dict]]:
    """(preset, base overrides, candidates) from a grid file, or the built-in list."""
    if not path:
        return "baby", {}, CANDIDATES
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    base = spec.get("base", {})
    candidates = list(spec.get("candidates", []))
    axes = spec.get("axes") or {}
    for values in itertools.product(*axes.values()) if axes else ():  # no axes: no extra candidate
        settings = dict(zip(axes, values))
        candidates.append({"name": ",".join(f"{k.split('.')[-1]}={v}" for k, v in settings.items()), "set": settings})
    return base.get("preset", "baby"), base.get("set", {}), candidates


def key(name: str, seed: int, budget: float, settings: dict) -> str:
    return json.dumps([name, seed, budget, settings], sort_keys=True)


def read_table(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def markdown(rows: list[dict], budget: float) -> str:
    by_name: dict[str, list[dict]] = {}
    for r in rows:
        if r["budget_s"] == budget:
            by_name.setdefault(r["name"], []).append(r)
    lines = [
        "| candidate | settings | seeds | val loss (mean ± std) | wall s | steps | tokens/s |",
        "|---|---|---|---|---|---|---|",
    ]
    ranked = []
    for name, runs in by_name.items():
        mean, std = mean_std([r["val_loss"] for r in runs])
        over = any(r["over_budget"] for r in runs)
        ranked.append((over, mean if mean is not None else float("inf"), name, runs, std))
    for over, mean, name, runs, std in sorted(ranked):
        settings = ", ".join(f"{k}={v}" for k, v in runs[0]["set"].items()) or "(preset)"
        loss = f"{mean:.4f} ± {std:.4f}" if mean != float("inf") else "–"
        walls = max(r["wall_s"] for r in runs)
        lines.append(
            f"| {name}{' (over budget)' if over else ''} | {settings} | {len(runs)} | {loss} | "
            f"{walls:.1f} | {runs[0]['steps']} | {runs[0]['tokens_per_sec']} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--table", default="runs/speedrun-search.jsonl", help="JSONL results, appended to")
    ap.add_argument("--grid", metavar="FILE.json", help="candidates (default: the built-in sequence)")
    ap.add_argument("--budget", type=float, default=100.0, help="seconds from process launch")
    ap.add_argument("--reserve", type=float, default=6.0, help="seconds of the budget kept for start-up and the end")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these candidates")
    ap.add_argument("--out", default="runs/bench-search", help="folder for the run directories")
    args = ap.parse_args()

    text = bench_data(args.data) / "tinyshakespeare.txt"
    table = Path(args.table)
    table.parent.mkdir(parents=True, exist_ok=True)
    preset, base, candidates = load_grid(args.grid)
    done = {key(r["name"], r["seed"], r["budget_s"], r["set"]) for r in read_table(table)}
    ran = 0
    for cand in candidates:
        if args.only and cand["name"] not in args.only:
            continue
        settings = {**base, **cand.get("set", {})}
        for seed in range(1, args.seeds + 1):
            if key(cand["name"], seed, args.budget, settings) in done:
                continue
            run_args = [
                "--preset",
                cand.get("preset", preset),
                "--data",
                str(text),
                "--tokenizer",
                "char",
                "--time-budget",
                str(args.budget - args.reserve),
            ] + overrides_args(settings)
            run = launch_train(
                cand["name"],
                run_args,
                Path(args.out) / f"{cand['name']}-seed{seed}",
                seed=seed,
                timeout=3 * args.budget,
            )
            row = {
                **run.record(),
                "budget_s": args.budget,
                "set": settings,
                "over_budget": run.wall_s > args.budget,
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            }
            with table.open("a", encoding="utf-8") as f:  # one line per finished run, kept if the search stops
                f.write(json.dumps(row) + "\n")
            ran += 1
    rows = read_table(table)
    print(markdown(rows, args.budget))
    best = min(
        (r for r in rows if r["budget_s"] == args.budget and not r["over_budget"] and r["val_loss"]),
        key=lambda r: r["val_loss"],
        default=None,
    )
    print(
        json.dumps(
            {
                "benchmark": "speedrun_search",
                "budget_s": args.budget,
                "ran": ran,
                "rows": len(rows),
                "best": best and {k: best[k] for k in ("name", "seed", "val_loss", "wall_s", "set")},
            }
        )
    )


if __name__ == "__main__":
    main()
