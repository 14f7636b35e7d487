"""Two runs side by side in one picture: ``glassgpt plot DIR --compare OTHER_DIR``.

Made for the makemore ladder's lessons — the MLP without and with its initialisation fixes,
with and without BatchNorm — it works for any two runs.  One column per run, one row per
question:

1. the loss (training, 50-step mean; the dev/validation estimates; the final loss), on one
   shared scale, so the one that starts at ~27 instead of ln 27 = 3.3 shows it;
2. the activation histograms at the *first* diagnostics step, with each layer's share of
   saturated units (|tanh| > 0.97): the naive initialisation piles them at ±1;
3. the dead-neuron image of the first tanh layer at that step (white: |tanh| > 0.99);
4. the update-to-data ratio of every weight over the run, with the −3 guide line.

Rows 2–4 need diagnostics (``--diagnostics-every N``); a run without them says so in its panel.
"""

from __future__ import annotations

from pathlib import Path

from glassgpt.evaluation.loss import final_loss
from glassgpt.fileio import check_writable
from glassgpt.makemore.figures import draw_dead
from glassgpt.report import theme
from glassgpt.report.canvas import new_figure, require_matplotlib, save_png, style
from glassgpt.report.figures import draw_histograms, draw_loss, draw_update_ratio, histogram_sets
from glassgpt.report.rundata import RunData


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=theme.MUTED, transform=ax.transAxes, wrap=True)
    ax.set_axis_off()


def _title(run: RunData) -> str:
    final = run.summary.get("final") or {}
    split, loss = final_loss(final)
    tail = f" · final {split} loss {loss:.4f}" if loss is not None else ""
    return f"{run.dir.name} ({run.config.get('preset') or 'custom'}){tail}"


def compare_runs(run_dir: str | Path, other_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Draw the comparison of two run directories; returns the PNG's path
    (``DIR/plots/compare-<OTHER name>.png`` unless ``out_dir`` is given)."""
    runs = [RunData(run_dir).require(), RunData(other_dir).require()]
    out = Path(out_dir or runs[0].plots_dir)
    check_writable(out, "the figure folder", "choose another --out or make the run writable")
    matplotlib = require_matplotlib()
    with matplotlib.rc_context(style()):
        fig, axes = new_figure(14, 16, 4, 2, squeeze=False)
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
        for row in (0, 3):  # one scale per row, so the two columns compare at a glance
            live = [ax for ax in axes[row] if ax.axison]
            if len(live) == 2:
                lo = min(ax.get_ylim()[0] for ax in live)
                hi = max(ax.get_ylim()[1] for ax in live)
                for ax in live:
                    ax.set_ylim(lo, hi)
        fig.suptitle(f"{runs[0].dir.name}  vs  {runs[1].dir.name}", fontsize=13)
        return save_png(fig, out / f"compare-{runs[1].dir.name}.png")
