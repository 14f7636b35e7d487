"""Runs side by side in one picture: ``glassgpt plot DIR --compare OTHER_DIR [OTHER_DIR ...]``.

Made for the makemore ladder's lessons — the MLP without and with its initialisation fixes,
with and without BatchNorm — it works for any runs, two to ``MAX_RUNS``.  One column per run,
one row per question:

1. the loss (training, 50-step mean; the dev/validation estimates; the final loss), on one
   shared scale, so the one that starts at ~27 instead of ln 27 = 3.3 shows it;
2. the activation histograms at the *first* diagnostics step, with each layer's share of
   saturated units (|tanh| > 0.97): the naive initialisation piles them at ±1;
3. the dead-neuron image of the first tanh layer at that step (white: |tanh| > 0.99);
4. the update-to-data ratio of every weight over the run, with the −3 guide line.

Rows 1, 2 and 4 plot the same quantity in every column, so each shares one y range across
its columns (``SHARED``); row 3's images have one row per example and need none.  Rows 2–4
need diagnostics (``--diagnostics-every N``); a run without them says so in its panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glassgpt.errors import ConfigError
from glassgpt.fileio import check_writable
from glassgpt.makemore.figures import draw_dead
from glassgpt.report import theme
from glassgpt.report.canvas import new_figure, require_matplotlib, save_png, style
from glassgpt.report.figures import draw_histograms, draw_loss, draw_update_ratio, histogram_sets
from glassgpt.report.rundata import RunData
from glassgpt.rundir.loss_names import final_loss


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=theme.MUTED, transform=ax.transAxes, wrap=True)
    ax.set_axis_off()


def _title(run: RunData) -> str:
    final = run.summary.get("final") or {}
    split, loss = final_loss(final)
    tail = f" · final {split} loss {loss:.4f}" if loss is not None else ""
    return f"{run.dir.name} ({run.config.get('preset') or 'custom'}){tail}"


#: the most runs one picture holds (each column is 7 inches wide)
MAX_RUNS = 8
#: row -> the quantity every column of that row plots, on one shared y range
SHARED = {0: "loss", 1: "activations", 3: "update ratio"}


@dataclass(frozen=True)
class Comparison:
    path: Path  # the PNG
    runs: tuple[str, ...]  # the runs' folder names, one column each, in the order given
    #: SHARED's quantities: each column's y range as drawn (None: a panel without that data)
    ylims: dict[str, tuple[tuple[float, float] | None, ...]]


def _file_name(others: list[RunData]) -> str:
    names = "-".join(run.dir.name for run in others)
    return f"compare-{names}.png" if len(names) <= 100 else f"compare-{len(others)}-runs.png"


def compare_runs(run_dir: str | Path, *others: str | Path, out_dir: str | Path | None = None) -> Comparison:
    """Draw ``run_dir`` beside each of ``others`` (one or more run directories) in one picture,
    ``DIR/plots/compare-<OTHER names>.png`` unless ``out_dir`` is given."""
    if not others:
        raise ConfigError("--compare needs at least one other run directory to draw beside DIR.")
    if len(others) + 1 > MAX_RUNS:
        raise ConfigError(
            f"--compare draws at most {MAX_RUNS} runs in one picture, got {len(others) + 1}; compare fewer at a time."
        )
    runs = [RunData(run_dir).require(), *(RunData(other).require() for other in others)]
    out = Path(out_dir or runs[0].plots_dir)
    check_writable(out, "the figure folder", "choose another --out or make the run writable")
    matplotlib = require_matplotlib()
    ylims: dict[str, tuple[tuple[float, float] | None, ...]] = {}
    with matplotlib.rc_context(style()):
        fig, axes = new_figure(7 * len(runs), 16, 4, len(runs), squeeze=False)
        for col, run in enumerate(runs):
            draw_loss(axes[0][col], run)
            axes[0][col].set_title(_title(run), fontsize=10)
            first = [r for r in run.diagnostics_with("histograms")]
            if first and histogram_sets(first[0]["histograms"]).get("activations"):
                draw_histograms([axes[1][col]], first[0], title_suffix=f" at step {first[0].get('step', '?')}")
            else:
                _empty(axes[1][col], "no activation histograms:\ntrain with --diagnostics-every N")
            dead = [r for r in run.diagnostics_with("dead")]
            if dead and dead[0]["dead"]:
                draw_dead(axes[2][col], dead[0]["dead"][0], dead[0].get("step", "?"))
            else:
                _empty(axes[2][col], "no dead-neuron image:\ntrain a ladder model with --diagnostics-every N")
            ratios = run.diagnostics_with("update_ratio")
            if ratios:
                draw_update_ratio(axes[3][col], ratios)
                axes[3][col].legend(loc="lower right", fontsize=7)
            else:
                _empty(axes[3][col], "no update ratios:\ntrain with --diagnostics-every N")
        for row, quantity in SHARED.items():  # one scale per row, so the columns compare at a glance
            live = [ax for ax in axes[row] if ax.axison]
            if live:
                lo, hi = min(ax.get_ylim()[0] for ax in live), max(ax.get_ylim()[1] for ax in live)
                for ax in live:
                    ax.set_ylim(lo, hi)
            ylims[quantity] = tuple(tuple(map(float, ax.get_ylim())) if ax.axison else None for ax in axes[row])
        fig.suptitle("  vs  ".join(run.dir.name for run in runs), fontsize=13)
        path = save_png(fig, out / _file_name(runs[1:]))
    return Comparison(path, tuple(run.dir.name for run in runs), ylims)
