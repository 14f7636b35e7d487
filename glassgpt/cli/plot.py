"""``glassgpt plot``: draw a run's figures into DIR/plots/."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.errors import ConfigError
from glassgpt.report import RunData, compare_runs, render
from glassgpt.report.compare import MAX_RUNS
from glassgpt.report.figures import require_matplotlib
from glassgpt.rundir import kinds

FIGURE_NAMES = [
    "overview",
    "loss",
    "stage",
    "grad-norm",
    "lr-finder",
    "grad-components",
    "grad-flow",
    "update-ratio",
    "histograms",
    "attention",
    "embeddings",
    "weight-gradients",
    "dead-neurons",
    "bigram-table",
]


def register(sub) -> None:
    p = sub.add_parser(
        "plot",
        help=COMMANDS["plot"],
        formatter_class=HelpFormatter,
        description="Draw one figure, or all of them, into DIR/plots/<name>.png.\n"
        "Figures: overview (the 2x2 summary), loss, grad-norm, lr-finder, grad-components, grad-flow,\n"
        "update-ratio, histograms (these three need a run trained by `glassgpt train --diagnostics-every N`),\n"
        "attention (for --prompt), embeddings; for the makemore ladder's models also\n"
        "weight-gradients and dead-neurons (with `glassgpt train --diagnostics-every N`) and bigram-table.\n"
        "--compare OTHER_DIR [OTHER_DIR ...] draws DIR and the other runs side by side in one picture\n"
        "instead, one column each (loss, activation histograms, dead neurons, update ratios; each row\n"
        "of curves on one shared y range): DIR/plots/compare-OTHER[-OTHER2...].png.\n"
        "lr-finder plots DIR/lr_finder.json; --run first sweeps the learning rate on fresh weights\n"
        "with the run's model, data and optimizer settings and writes that file.\n"
        "With 'all', figures whose data the run lacks are skipped with a note.",
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train`")
    p.add_argument(
        "what", metavar="WHAT", nargs="?", default="all", choices=FIGURE_NAMES + ["all"], help="one figure name, or all"
    )
    p.add_argument(
        "--prompt", help="text whose attention the attention figure shows (default: the start of the validation text)"
    )
    p.add_argument("--out", metavar="FOLDER", help="folder for the PNG files (default: DIR/plots)")
    p.add_argument(
        "--compare",
        metavar="OTHER_DIR",
        nargs="+",
        help=f"draw DIR and these runs side by side in one picture (up to {MAX_RUNS - 1} others)",
    )
    p.add_argument("--run", action="store_true", help="lr-finder only: run the learning-rate sweep first")
    p.add_argument("--lr-start", type=float, default=1e-4, help="lr-finder --run: first learning rate")
    p.add_argument("--lr-end", type=float, default=1.0, help="lr-finder --run: last learning rate")
    p.add_argument("--lr-steps", type=int, default=100, help="lr-finder --run: learning rates in the sweep")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "plot")
    data = RunData(args.run_dir).require()
    if args.compare:
        if args.what != "all" or args.run:
            raise ConfigError("--compare draws its own picture; drop the figure name and --run.")
        print(f"wrote {compare_runs(data.dir, *args.compare, out_dir=args.out).path}")
        return 0
    if args.run:
        if args.what != "lr-finder":
            raise ConfigError("--run only applies to the lr-finder figure: `glassgpt plot DIR lr-finder --run`.")
        require_matplotlib()  # before spending time on the sweep
        from glassgpt.training.lr_finder import find_lr  # trains (torch): the figures of the records need none

        result = find_lr(data.dir, args.lr_start, args.lr_end, args.lr_steps, progress=not args.quiet)
        print(
            f"lr sweep: {len(result['lrs'])} steps, lowest smoothed loss at lr {result['min_loss_lr']:.3g}, "
            f"suggested lr {result['suggested_lr']:.3g} (written to {data.dir / 'lr_finder.json'})"
        )
    results = render(data, args.what, prompt=args.prompt, out_dir=args.out, progress=not args.quiet)
    if args.what != "all" and results[0].path is None:
        raise ConfigError(f"cannot draw {args.what}: {results[0].note.removeprefix('skipped: ')}.")
    for r in results:
        print(f"wrote {r.path}" if r.path else f"{r.name}: {r.note}")
    return 0
