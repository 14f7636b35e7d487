"""The makemore ladder's figures: what the lectures draw to show *why* a fix helps.

- ``weight-gradients``: the gradient histogram of every weight matrix, with its grad:data
  ratio std(grad) / std(W) (a matrix whose ratio is far above the others' learns much faster);
- ``dead-neurons``: per tanh layer, examples (rows) × units (columns), white where
  |tanh| > 0.99, at the first and the latest diagnostics step — a white column is a unit no
  example can move (dead), a mostly white image a layer initialised into saturation;
- ``bigram-table``: the counting bigram's table of counts (the neural bigram's softmax(W) as
  probabilities), one cell per (previous, next) character pair.

They read ``diagnostics.jsonl`` records written by ``training.layer_probe`` (train with
``--diagnostics-every N``) or the model itself; any other run gets a note instead.
``draw_dead`` and ``draw_weight_gradients`` are shared with the side-by-side comparison.
"""

from __future__ import annotations

import numpy as np

from glassgpt.makemore.dead_rows import DEAD, unpack_rows
from glassgpt.report import theme
from glassgpt.report.canvas import figure, new_figure, require_matplotlib, token_label
from glassgpt.report.rundata import MissingData, RunData

NO_LAYER_DIAGNOSTICS = "no layer diagnostics in diagnostics.jsonl (train a ladder model with --diagnostics-every N)"


def layer_records(run: RunData, key: str) -> list[dict]:
    """The ladder diagnostics records that hold ``key``."""
    return [r for r in run.diagnostics_with(key) if r.get("probe") == "layers"]


def draw_weight_gradients(ax, record: dict, title: str = "") -> None:
    matplotlib = require_matplotlib()
    entries = [w for w in record.get("weight_gradients") or [] if w.get("counts")]
    cmap = matplotlib.colormaps["viridis"]
    for i, w in enumerate(entries):
        counts, edges = np.asarray(w["counts"], float), np.asarray(w["edges"], float)
        centers = (edges[:-1] + edges[1:]) / 2
        ratio = w.get("grad_data")
        label = f"{w['name']} {'×'.join(map(str, w['shape']))} · std {w['std']:.2e}" + (
            f" · grad:data {ratio:.2e}" if isinstance(ratio, (int, float)) else ""
        )
        ax.plot(
            centers,
            counts / max(counts.sum(), 1.0),
            lw=1.6,
            label=label,
            color=cmap(i / max(1, len(entries) - 1) * 0.85),
        )
    ax.set_xlabel("gradient value")
    ax.set_ylabel("fraction of entries")
    ax.set_title(title or f"weight gradients at step {record.get('step', '?')}")
    ax.legend(loc="upper right", fontsize=7.5)


def dead_image(entry: dict) -> np.ndarray:
    rows, cols = entry["shape"]
    return unpack_rows(entry["rows"], cols) if rows else np.zeros((0, cols), dtype=bool)


def draw_dead(ax, entry: dict, step) -> None:
    """One layer's dead-neuron image (white: |tanh| > 0.99), titled with what it shows."""
    bits = dead_image(entry)
    ax.imshow(bits, cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    ax.grid(False)
    dead = int(bits.all(axis=0).sum()) if len(bits) else 0
    ax.set_title(
        f"{entry['layer']}, step {step}: {bits.mean():.0%} of values |tanh| > {DEAD}, "
        f"{dead} dead unit{'s' if dead != 1 else ''}",
        fontsize=9,
    )
    ax.set_xlabel("unit")
    ax.set_ylabel("example")


@figure(
    "weight-gradients",
    "Gradient histograms of every weight matrix at the latest diagnostics step, with "
    "each one's grad:data ratio std(grad)/std(W): a matrix whose ratio stands far above "
    "the others (the output layer, with a naive initialisation) learns much faster than "
    "they do.",
)
def weight_gradients(run: RunData):
    records = layer_records(run, "weight_gradients")
    if not records:
        raise MissingData(NO_LAYER_DIAGNOSTICS)
    fig, ax = new_figure(8.5, 4.4)
    draw_weight_gradients(ax, records[-1])
    return fig


@figure(
    "dead-neurons",
    "Each tanh layer's outputs on one batch (rows: examples, columns: units), white where "
    "|tanh| > 0.99, at the first and the latest diagnostics step. There the gradient "
    "1 − tanh² is below 0.02: a mostly white layer barely learns, and a column white in every "
    "row is a dead unit that no example can move.",
)
def dead_neurons(run: RunData):
    records = layer_records(run, "dead")
    if not records:
        raise MissingData(NO_LAYER_DIAGNOSTICS)
    first, last = records[0], records[-1]
    shown = [first, last] if last is not first else [first]
    n_layers = max(len(r["dead"]) for r in shown)
    fig, axes = new_figure(5.4 * len(shown), 2.2 + 2.4 * n_layers, n_layers, len(shown), squeeze=False)
    for col, record in enumerate(shown):
        for row in range(n_layers):
            if row < len(record["dead"]):
                draw_dead(axes[row][col], record["dead"][row], record.get("step", "?"))
            else:
                axes[row][col].set_axis_off()
    fig.suptitle("saturated tanh units (white)")
    return fig


@figure(
    "bigram-table",
    "The bigram's table: for each previous character (row) the next one (column), with the "
    "count of that pair in the training split (the counting bigram) or the learned "
    "probability softmax(W) in percent (the neural bigram). The row of '.' is how names "
    "start; the column of '.' how they end.",
)
def bigram_table(run: RunData):
    model, tok = run.model()
    if hasattr(model, "counts"):
        table, what, fmt = model.counts.double().numpy(), "counts of each pair in the training split", "{:.0f}"
    elif hasattr(model, "probs") and model.block_size == 1:
        table, what, fmt = 100 * model.probs().double().numpy(), "softmax(W), in percent", "{:.1f}"
    else:
        raise MissingData(f"the {run.config.get('model', {}).get('arch')} model has no bigram table")
    V = len(table)
    labels = [token_label(tok, i) for i in range(V)]
    size = max(5.0, 0.42 * V + 1.5)
    fig, ax = new_figure(size, size)
    shade = np.log1p(table)
    ax.imshow(shade, cmap="Blues", interpolation="nearest")
    ax.grid(False)
    small = 5.5 if V > 20 else 7.5
    for i in range(V):
        for j in range(V):
            dark = shade[i, j] > 0.6 * shade.max()
            ax.text(
                j,
                i - 0.18,
                labels[i] + labels[j],
                ha="center",
                va="center",
                fontsize=small,
                color="white" if dark else theme.MUTED,
            )
            ax.text(
                j,
                i + 0.22,
                fmt.format(table[i, j]),
                ha="center",
                va="center",
                fontsize=small,
                color="white" if dark else theme.INK,
            )
    ax.set_xticks(range(V), labels)
    ax.set_yticks(range(V), labels)
    ax.set_xlabel("next character")
    ax.set_ylabel("previous character")
    ax.set_title(f"bigram table: {what}")
    return fig
