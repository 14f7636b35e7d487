"""The laptop speedrun: validation loss on Tiny Shakespeare (char level) within a wall-clock budget
counted from process launch, against the ``baby`` preset and the anchor recipe, in one invocation.

Every run is a real ``glassgpt train`` process, so start-up, data preparation, any
compilation and the final evaluation on the whole validation split (the last 10% of the
text) all count.  ``--time-budget`` is the budget minus ``--reserve`` seconds left for what
happens outside training (imports, data preparation, the checkpoint and the end-of-run
sample); a run that still ends after the budget is counted as over budget.  The end-of-run
report (figures) is off (``GLASSGPT_REPORT=0``).

Runs, one after another (never two at once):
- ``recipe``: ``--recipe-preset`` / ``--recipe-config FILE.toml`` / ``--recipe-set KEY=VALUE``,
  ``--seeds`` seeds (default 3);
- ``baby``: ``--preset baby`` under the same budget, ``--baseline-seeds`` seeds;
- ``anchor``: the minimal trainer's CPU recipe (``launcher.ANCHOR``: 2,000 steps, no time
  limit; stopped after ``--anchor-timeout`` seconds), ``--baseline-seeds`` seeds; its loss at
  the budget is the last periodic estimate reached by then.

Printed as ONE JSON line: per recipe the final validation loss (mean ± std over seeds), the
loss reached by the budget, wall time from launch, training tokens/s, and achieved FLOP/s
as a share of the float32 matmul FLOP/s measured in this invocation at the run's thread
count.  The loss-vs-wall-clock figure (validation estimates, the final full evaluation, and the
training loss, faint) goes to ``OUT/speedrun_cpu.png``.

    GLASSGPT_BENCH_DATA=/path/to/folder python benchmarks/speedrun_cpu.py --budget 100 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from launcher import (
    ANCHOR,
    Run,
    bench_data,
    cpu_count,
    launch_train,
    matmul_gflops,
    mean_std,
    overrides_args,
    training_flops_per_token,
)

from glassgpt.plotting import new_figure, save_png

COLORS = {"recipe": "#c0392b", "baby": "#2471a3", "anchor": "#7f8c8d"}


def recipe_args(args) -> list[str]:
    out = ["--preset", args.recipe_preset] if args.recipe_preset else []
    if args.recipe_config:
        out += ["--config", args.recipe_config]
    for item in args.recipe_set:
        out += ["--set", item]
    return out


def summarise(runs: list[Run], budget: float, gflops: dict[int, float]) -> dict:
    finals = [r.final_loss for r in runs]
    at_budget = [r.loss_at(budget) for r in runs]
    mean, std = mean_std(finals)
    at_mean, at_std = mean_std(at_budget)
    speeds = [r.tokens_per_sec for r in runs if r.tokens_per_sec]
    shares = []
    for r in runs:
        threads = (r.summary.get("threads") or {}).get("start")
        if r.tokens_per_sec and r.config and threads in gflops:
            shares.append(training_flops_per_token(r.config) * r.tokens_per_sec / (gflops[threads] * 1e9))
    return {
        "seeds": [r.seed for r in runs],
        "val_loss_final_mean": mean,
        "val_loss_final_std": std,
        "val_loss_at_budget_mean": at_mean,
        "val_loss_at_budget_std": at_std,
        "wall_s": [round(r.wall_s, 1) for r in runs],
        "over_budget": sum(r.wall_s > budget for r in runs),
        "steps": [r.summary.get("steps") for r in runs],
        "tokens_per_sec_mean": mean_std(speeds)[0],
        "flops_share_mean": mean_std(shares)[0],
        "runs": [r.record() for r in runs],
    }


def plot(groups: dict[str, list[Run]], budget: float, path: Path) -> Path:
    fig, ax = new_figure(8, 5)
    for name, runs in groups.items():
        for i, r in enumerate(runs):
            train = r.curve("train_loss")
            if train:
                xs, ys = zip(*train)
                ax.plot(xs, ys, "-", color=COLORS[name], alpha=0.25, lw=0.8)
            points = r.curve()
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, "o-", color=COLORS[name], alpha=0.9, lw=1.4, ms=3, label=name if i == 0 else None)
            if r.final_loss is not None:
                ax.plot([r.wall_s], [r.final_loss], "*", color=COLORS[name], ms=10)
    ax.axvline(budget, color="black", ls=":", lw=1)
    ax.set_xlabel("seconds since process launch (★ = final evaluation on the whole validation split)")
    ax.set_ylabel("loss (nats/char): validation (dots), training (faint)")
    ax.set_title(f"Tiny Shakespeare, char level: loss vs wall clock ({budget:.0f} s budget)")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--budget", type=float, default=100.0, help="seconds from process launch")
    ap.add_argument("--reserve", type=float, default=6.0, help="seconds of the budget kept for start-up and the end")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--baseline-seeds", type=int, default=3, help="seeds of the baby and anchor runs")
    ap.add_argument("--recipe-preset", default="cpu-speedrun")
    ap.add_argument("--recipe-config", metavar="FILE.toml")
    ap.add_argument("--recipe-set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--skip", default="", help="comma-separated: baby, anchor")
    ap.add_argument("--anchor-timeout", type=float, default=0.0, help="seconds (default: 5 × budget)")
    ap.add_argument("--out", default="runs/bench-speedrun", help="folder for the runs and the figure")
    args = ap.parse_args()

    text = bench_data(args.data) / "tinyshakespeare.txt"
    out = Path(args.out)
    common = ["--data", str(text), "--tokenizer", "char"]
    budgeted = common + ["--time-budget", str(args.budget - args.reserve)]
    plans = {"recipe": (recipe_args(args) + budgeted, args.seeds, args.budget * 3)}
    skip = set(filter(None, args.skip.split(",")))
    if "baby" not in skip:
        plans["baby"] = (["--preset", "baby"] + budgeted, args.baseline_seeds, args.budget * 3)
    if "anchor" not in skip:
        plans["anchor"] = (
            ["--preset", "baby"] + common + overrides_args(ANCHOR),
            args.baseline_seeds,
            args.anchor_timeout or 5 * args.budget,
        )

    cores = cpu_count()
    gflops = {n: matmul_gflops(n) for n in sorted({1, cores})}
    started = time.time()
    groups: dict[str, list[Run]] = {}
    for name, (run_args, seeds, timeout) in plans.items():
        groups[name] = [
            launch_train(name, run_args, out / f"{name}-seed{seed}", seed=seed, timeout=timeout)
            for seed in range(1, seeds + 1)
        ]
    gflops_after = {n: matmul_gflops(n) for n in gflops}
    figure = plot(groups, args.budget, out / "speedrun_cpu.png")
    print(
        json.dumps(
            {
                "benchmark": "speedrun_cpu",
                "data": text.name,
                "budget_s": args.budget,
                "reserve_s": args.reserve,
                "cores": cores,
                "minutes": round((time.time() - started) / 60, 1),
                "matmul_gflops": {str(n): round(g, 1) for n, g in gflops.items()},
                "matmul_gflops_after": {str(n): round(g, 1) for n, g in gflops_after.items()},
                "recipe_args": recipe_args(args),
                "results": {name: summarise(runs, args.budget, gflops) for name, runs in groups.items()},
                "figure": str(figure),
            }
        )
    )


if __name__ == "__main__":
    main()
