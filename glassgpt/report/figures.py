"""The figures of a run: one function per figure, each saving ``plots/<name>.png`` and
returning its path.

Every function takes a run directory (or a ``RunData``) and an optional output folder.
A figure whose data the run does not have (no diagnostics were recorded, no learning-rate
sweep was run, ...) raises ``MissingData`` with a short reason; ``render`` turns that into
a note and carries on.  The registry, the canvas and the style live in ``canvas.py`` and
``theme.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from glassgpt.errors import ConfigError, GlassError
from glassgpt.fileio import check_writable
from glassgpt.progress import task
from glassgpt.report import theme
from glassgpt.report.canvas import (
    FIGURES,
    DrawnFigure,
    figure,
    floats,
    new_figure,
    require_matplotlib,
    step_ticks,
    token_label,
    uniform_line,
    window_mean,
)
from glassgpt.report.rundata import COMPONENTS, MissingData, RunData, latest_components
from glassgpt.rundir.loss_names import final_loss

__all__ = [
    "FIGURES",
    "DrawnFigure",
    "render",
    "window_mean",
    "histogram_sets",
    "draw_histograms",
    "draw_update_ratio",
    "draw_loss",
]


def render(
    run_dir: str | Path | RunData,
    which: str | None = "all",
    prompt: str | None = None,
    out_dir: str | Path | None = None,
    progress: bool = False,
) -> list[DrawnFigure]:
    """Draw one figure (``which``) or all of them; figures without data become notes.  The
    folder is checked before anything is drawn; ``progress`` shows a bar."""
    run = run_dir if isinstance(run_dir, RunData) else RunData(run_dir)
    if which in (None, "all"):
        names = list(FIGURES)
    elif which in FIGURES:
        names = [which]
    else:
        raise ConfigError(f"unknown figure {which!r}; choose one of {', '.join(FIGURES)} or all.")
    require_matplotlib()
    check_writable(out_dir or run.plots_dir, "the figure folder", "choose another --out or make the run writable")
    out = []
    with task("drawing figures", len(names), enabled=progress) as bar:
        for name in names:
            bar.update(detail=name)
            kw = {"prompt": prompt} if name == "attention" and prompt is not None else {}
            try:
                out.append(DrawnFigure(name, FIGURES[name].draw(run, out_dir, **kw)))
            except MissingData as exc:
                out.append(DrawnFigure(name, None, f"skipped: {exc}"))
            except GlassError:
                raise
            except Exception as exc:  # one broken figure must not cost the others
                out.append(DrawnFigure(name, None, f"could not be drawn ({exc.__class__.__name__}: {exc})"))
            bar.advance(detail="")
    return out


# ---- shared panels ---------------------------------------------------------------------------
def draw_loss(ax, run: RunData, with_val: bool = True) -> None:
    steps, train = run.series("train_loss")
    if len(steps):
        ax.plot(steps, train, color=theme.BLUE, alpha=0.3, lw=1, label="train loss (raw)")
        ax.plot(steps, window_mean(steps, train), color=theme.BLUE, lw=2, label="train loss, 50-step mean")
    vsteps, val = run.series("val_loss")
    if with_val and len(vsteps):
        ax.plot(vsteps, val, "o-", color=theme.ORANGE, ms=4, lw=1.2, label="validation estimate")
    esteps, est = run.series("train_eval_loss")  # a run without a validation split estimates its training loss
    if with_val and len(esteps):
        ax.plot(esteps, est, "o-", color=theme.ORANGE, ms=4, lw=1.2, label="training estimate (fixed batches)")
    split, final = final_loss(run.summary.get("final") or {})
    if with_val and final is not None and run.summary.get("steps"):
        ax.plot([run.summary["steps"]], [final], "*", color=theme.RED, ms=11, label=f"final {split} loss {final:.3f}")
    uniform_line(ax, run.vocab_size)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss (nats)")
    ax.legend(loc="best")


def _draw_grad_norm(ax, run: RunData) -> None:
    steps, g = run.series("grad_norm")
    ax.plot(steps, g, color=theme.PURPLE, alpha=0.3, lw=1, label="global grad norm (raw)")
    ax.plot(steps, window_mean(steps, g), color=theme.PURPLE, lw=2, label="50-step mean")
    clip = float(run.config.get("train", {}).get("grad_clip") or 0)
    if clip > 0:
        ax.axhline(clip, color=theme.RED, ls="--", lw=1.2, label=f"clip threshold {clip:g}")
    positive = g[g > 0]
    if len(positive) and positive.max() / positive.min() > 30:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("‖∇L‖ before clipping")
    ax.legend(loc="upper right")


def _draw_components(ax, stats: dict, source: str) -> None:
    names = [c for c in COMPONENTS if c in stats] + [c for c in stats if c not in COMPONENTS]
    means = [float(stats[c]["mean"]) for c in names]
    x = np.arange(len(names))
    ax.bar(
        x, means, color=[theme.CYCLE[i % len(theme.CYCLE)] for i in range(len(names))], width=0.62, label="mean |grad|"
    )
    maxes = [float(stats[c].get("max", float("nan"))) for c in names]
    if all(math.isfinite(m) for m in maxes):
        ax.plot(x, maxes, "_", color=theme.INK, ms=18, mew=2, label="max |grad|")
    for xi, m in zip(x, means):
        ax.annotate(
            f"{m:.1e}",
            (xi, m),
            ha="center",
            va="bottom",
            fontsize=8,
            color=theme.INK,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_xticks(x, names)
    if min(means) > 0:
        ax.set_yscale("log")
    ax.grid(axis="x", visible=False)
    ax.set_ylabel("|∂L/∂θ|")
    ax.set_xlabel(source, color=theme.MUTED)
    ax.legend(loc="upper right")


# ---- the figures -------------------------------------------------------------------------------
@figure(
    "overview",
    "How it learned, at a glance: the loss against the uniform-guess baseline, the gradient "
    "norm, the spread of per-step training losses early vs late (first and last 20% of the "
    "logged steps), and the mean gradient magnitude of each part of the model.",
)
def overview(run: RunData):
    steps, train = run.series("train_loss")
    if not len(steps):
        raise MissingData("metrics.jsonl has no training losses yet")
    fig, axes = new_figure(11, 7.6, 2, 2)
    (a, b), (c, d) = axes
    draw_loss(a, run, with_val=False)
    a.set_title("loss")
    if len(run.series("grad_norm")[0]):
        _draw_grad_norm(b, run)
    b.set_title("gradient norm")
    n = max(1, round(len(train) * 0.2))
    early, late = train[:n], train[-n:]
    both = np.concatenate([early, late])
    wide = both.min() > 0 and both.max() / both.min() > 20  # e.g. 5 nats early, 0.05 late
    bins = np.geomspace(both.min(), both.max(), 40) if wide else np.histogram_bin_edges(both, bins=30)
    c.hist(
        early,
        bins=bins,
        color=theme.ORANGE,
        alpha=0.65,
        label=f"early: steps {steps[0]:.0f}–{steps[n - 1]:.0f} (first 20%)",
    )
    c.hist(
        late, bins=bins, color=theme.GREEN, alpha=0.65, label=f"late: steps {steps[-n]:.0f}–{steps[-1]:.0f} (last 20%)"
    )
    if wide:
        c.set_xscale("log")
    c.set_xlabel("training loss of a logged step (nats" + (", log scale)" if wide else ")"))
    c.set_ylabel("logged steps")
    c.set_title("loss distribution, early vs late")
    c.legend(loc="upper center")
    try:
        stats, source = latest_components(run)
        _draw_components(d, stats, source)
    except MissingData as exc:
        d.text(
            0.5,
            0.5,
            f"no gradient statistics:\n{exc}",
            ha="center",
            va="center",
            color=theme.MUTED,
            transform=d.transAxes,
            wrap=True,
        )
        d.set_axis_off()
    d.set_title("mean |grad| per component")
    fig.suptitle(f"{run.title}: how it learned")
    return fig


@figure(
    "loss",
    "Training loss at every logged step (thin), its 50-step trailing mean (bold), the periodic "
    "validation estimates and the final evaluation. The dashed line is ln V, the loss of a "
    "model that guesses uniformly over the V tokens: where every run starts.",
)
def loss(run: RunData):
    if not any(len(run.series(k)[0]) for k in ("train_loss", "val_loss", "train_eval_loss")):
        raise MissingData("metrics.jsonl has no losses yet")
    fig, ax = new_figure(8, 4.4)
    draw_loss(ax, run)
    ax.set_title("loss")
    return fig


#: the stages after fine-tuning: (panel title, y label, [(metrics key, label, colour)])
STAGE_PANELS = (
    (
        "reward and accuracy",
        "per completion / pair",
        [
            ("reward", "mean reward of the rollouts", theme.BLUE),
            ("accuracy", "exact accuracy of the rollouts", theme.GREEN),
            ("pair_accuracy", "pairs ranked right", theme.GREEN),
            ("implicit_accuracy", "pairs the implicit reward ranks right", theme.GREEN),
        ],
    ),
    ("KL to the start model", "k3 estimate, nats per token", [("kl", "KL(π‖π_ref)", theme.PURPLE)]),
    ("entropy", "nats per generated token", [("entropy", "entropy of the policy", theme.ORANGE)]),
    (
        "margins",
        "score or implicit reward",
        [
            ("reward_margin", "r_chosen − r_rejected", theme.TEAL),
            ("implicit_margin", "implicit margin", theme.TEAL),
            ("chosen_reward", "implicit reward, chosen", theme.GREEN),
            ("rejected_reward", "implicit reward, rejected", theme.RED),
        ],
    ),
)


@figure(
    "stage",
    "The stages after fine-tuning, step by step: RL's mean reward and exact accuracy of its rollouts, "
    "a reward model's or DPO's share of pairs ranked right, the KL divergence to the start model "
    "(k3 estimate per token), the policy's entropy, and the reward margins (thin: every logged step; "
    "bold: the 50-step mean).",
)
def stage(run: RunData):
    panels = [(t, y, [c for c in curves if len(run.series(c[0])[0])]) for t, y, curves in STAGE_PANELS]
    panels = [p for p in panels if p[2]]
    if not panels:
        raise MissingData(
            "this run has no reward, accuracy, KL or entropy curves (it is not a stage after fine-tuning)"
        )
    fig, axes = new_figure(8, 2.6 * len(panels), nrows=len(panels), squeeze=False)
    for ax, (title, ylabel, curves) in zip(axes[:, 0], panels):
        for key, label, colour in curves:
            steps, values = run.series(key)
            ax.plot(steps, values, color=colour, alpha=0.3, lw=1)
            ax.plot(steps, window_mean(steps, values), color=colour, lw=2, label=label)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.legend(loc="best")
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(f"{run.title}: after fine-tuning")
    return fig


@figure(
    "grad-norm",
    "Global gradient norm ‖∇L‖ at each logged step, measured before clipping. Spikes "
    "mean a step met an unusual batch or a too-large learning rate.",
)
def grad_norm(run: RunData):
    if not len(run.series("grad_norm")[0]):
        raise MissingData("metrics.jsonl has no gradient norms yet")
    fig, ax = new_figure(8, 4)
    _draw_grad_norm(ax, run)
    ax.set_title("gradient norm")
    return fig


@figure(
    "lr-finder",
    "Learning-rate finder: one step at each of a log-spaced sweep of learning rates, on "
    "fresh weights. The loss falls fastest a little below the minimum; the marked "
    "suggestion is the minimum's learning rate divided by 10.",
)
def lr_finder(run: RunData):
    data = run.lr_finder
    if not data.get("lrs") or not data.get("losses"):
        raise MissingData("no learning-rate sweep (lr_finder.json); run `glassgpt plot DIR lr-finder --run`")
    lrs, losses = floats(data["lrs"]), floats(data["losses"])
    fig, ax = new_figure(8, 4.2)
    ax.plot(lrs, losses, color=theme.BLUE, alpha=0.35, lw=1, label="batch loss at this step (raw)")
    if data.get("smoothed"):
        ax.plot(lrs, floats(data["smoothed"]), color=theme.BLUE, lw=2, label="smoothed (EMA 0.9)")
    if data.get("suggested_lr"):
        ax.axvline(
            data["suggested_lr"], color=theme.GREEN, ls="--", lw=1.4, label=f"suggested lr {data['suggested_lr']:.2g}"
        )
    if data.get("min_loss_lr"):
        ax.axvline(
            data["min_loss_lr"],
            color=theme.RED,
            ls=":",
            lw=1.4,
            label=f"lowest smoothed loss at {data['min_loss_lr']:.2g}",
        )
    ax.set_xscale("log")
    finite = losses[np.isfinite(losses)]
    if len(finite):
        ax.set_ylim(finite.min() - 0.05 * abs(finite.min()), min(finite.max(), finite[0] * 1.6) + 0.05)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title("learning-rate finder")
    ax.legend(loc="upper left")
    return fig


@figure(
    "grad-components",
    "Mean |gradient| of each part of the model (bars, log scale) and the largest "
    "single |gradient| (ticks): which parts are learning fastest.",
)
def grad_components(run: RunData):
    stats, source = latest_components(run)
    if not stats:
        raise MissingData("no gradient statistics")
    fig, ax = new_figure(7, 4)
    _draw_components(ax, stats, source)
    ax.set_title("mean |grad| per component")
    return fig


@figure(
    "grad-flow",
    "Gradient flow: the gradient norm of every layer (rows, input at the top) at every "
    "diagnostics step (columns), log10 colour scale. A dark band means a layer whose "
    "gradient vanishes; a bright one, a layer whose gradient explodes.",
)
def grad_flow(run: RunData):
    records = run.diagnostics_with("layer_grad_norm")
    if not records:
        raise MissingData("no diagnostics.jsonl records (train with --diagnostics-every N)")
    rows: list[tuple[str, list]] = []
    if all(isinstance(r.get("embedding_grad_norm"), (int, float)) for r in records):
        rows.append(("embeddings", [r["embedding_grad_norm"] for r in records]))
    n_layers = max(len(r["layer_grad_norm"]) for r in records)
    names = records[-1].get("layer_names") or [
        f"block {i}" for i in range(n_layers)
    ]  # a ladder model names its tensors
    for i in range(n_layers):
        rows.append(
            (
                names[i] if i < len(names) else f"layer {i}",
                [r["layer_grad_norm"][i] if i < len(r["layer_grad_norm"]) else np.nan for r in records],
            )
        )
    if all(isinstance(r.get("head_grad_norm"), (int, float)) for r in records):
        rows.append(("head", [r["head_grad_norm"] for r in records]))
    values = np.asarray([v for _, v in rows], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.where(values > 0, np.log10(values), np.nan)
    fig, ax = new_figure(8, 1.6 + 0.38 * len(rows))
    im = ax.imshow(logv, aspect="auto", cmap="magma", interpolation="nearest")
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    step_ticks(ax, [r.get("step", i) for i, r in enumerate(records)])
    ax.grid(False)
    ax.set_xlabel("step")
    ax.set_title("gradient flow: log10 ‖grad‖ per layer")
    fig.colorbar(im, ax=ax, label="log10 ‖grad‖", shrink=0.9)
    return fig


@figure(
    "update-ratio",
    "Update-to-data ratio log10(|update| / |weight|) of each parameter group over "
    "time. Around −3 (one thousandth per step) is healthy; far below, that group "
    "barely learns; far above, the learning rate is too high for it.",
)
def update_ratio(run: RunData):
    records = run.diagnostics_with("update_ratio")
    if not records:
        raise MissingData("no update ratios in diagnostics.jsonl (train with --diagnostics-every N)")
    fig, ax = new_figure(8, 4.2)
    draw_update_ratio(ax, records)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return fig


def draw_update_ratio(ax, records: list[dict]) -> None:
    """log10(update / data) of every parameter group (a ladder model: every weight) over the
    records' steps, with the −3 guide line."""
    groups: list[str] = []
    for r in records:
        groups += [g for g in r["update_ratio"] if g not in groups]
    for i, g in enumerate(groups):
        pts = [
            (r["step"], r["update_ratio"][g])
            for r in records
            if isinstance(r["update_ratio"].get(g), (int, float)) and math.isfinite(r["update_ratio"][g])
        ]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(
                xs,
                ys,
                "-",
                marker="o" if len(xs) < 30 else None,
                ms=3,
                label=g,
                color=theme.CYCLE[i % len(theme.CYCLE)] if len(groups) <= len(theme.CYCLE) else None,
            )
    ax.axhline(-3, color=theme.INK, ls="--", lw=1.2, label="−3 (healthy)")
    ax.set_xlabel("step")
    ax.set_ylabel("log10(update / data)")
    ax.set_title("update-to-data ratio")


def histogram_sets(h) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """Normalise a diagnostics ``histograms`` entry to {kind: [(layer, counts, edges)]}.

    The diagnostics format is a list with one ``{"activation": {counts, edges},
    "gradient": {...}}`` per block; {kind: [per layer]} and {layer: {kind: ...}} layouts
    are accepted too.  Missing histograms (null) are left out."""

    def one(x):
        if isinstance(x, dict) and "counts" in x and "edges" in x and len(x["edges"]) == len(x["counts"]) + 1:
            return np.asarray(x["counts"], float), np.asarray(x["edges"], float)
        return None

    def kind_of(key) -> str | None:
        k = str(key).lower()
        return "gradients" if "grad" in k else "activations" if "act" in k else None

    def label(layer) -> str:
        return f"block {layer}" if str(layer).isdigit() else str(layer)

    sets: dict[str, list] = {}

    def add(kind, layer, x) -> None:
        got = one(x)
        if kind and got:
            sets.setdefault(kind, []).append((label(layer), *got))

    items = list(enumerate(h)) if isinstance(h, list) else list((h or {}).items())
    for key, value in items:
        if kind_of(key) and isinstance(value, (list, dict)):  # {kind: per layer}
            inner = enumerate(value) if isinstance(value, list) else value.items()
            for layer, x in inner:
                add(kind_of(key), layer, x)
        elif isinstance(value, dict):  # per layer: {kind: hist}
            for sub, x in value.items():
                add(kind_of(sub), key, x)
    return sets


def _saturation(record: dict) -> list:
    """Per layer: the share of saturated units in a diagnostics record (or None) — a GPT block's
    MLP activation (``{"mlp": {"saturated"}}``), or a ladder model's tanh layer (``{"saturated"}``)."""
    out = []
    for a in record.get("activations") or []:
        sat = ((a.get("mlp") or {}).get("saturated", a.get("saturated"))) if isinstance(a, dict) else None
        out.append(sat if isinstance(sat, (int, float)) else None)
    return out


def draw_histograms(axes, record: dict, title_suffix: str = "") -> None:
    """The activation and gradient histograms of one diagnostics record on ``axes`` (one per
    kind present); the activation legend gives each layer's share of saturated units."""
    matplotlib = require_matplotlib()
    sets = histogram_sets(record["histograms"])
    kinds = [k for k in ("activations", "gradients") if k in sets]
    sat = _saturation(record)
    what = record.get("activation_kind") or "MLP"
    for ax, kind in zip(axes, kinds):
        layers = sets[kind]
        cmap = matplotlib.colormaps["viridis"]
        for i, (label, counts, edges) in enumerate(layers):
            centers = (edges[:-1] + edges[1:]) / 2
            total = counts.sum() or 1.0
            if kind == "activations" and i < len(sat) and sat[i] is not None:
                label = f"{label} ({sat[i]:.1%} saturated)"
            ax.plot(centers, counts / total, lw=1.6, label=label, color=cmap(i / max(1, len(layers) - 1) * 0.85))
        ax.set_title(
            (f"{what} activations" if kind == "activations" else f"gradients w.r.t. {what} activations") + title_suffix
        )
        ax.set_xlabel("value")
        ax.set_ylabel("fraction of values")
        ax.legend(loc="upper right", fontsize=8)


@figure(
    "histograms",
    "Distributions of each block's output activations and of the gradients flowing "
    "into it, at the latest diagnostics step. Healthy layers have similar, "
    "well-spread distributions; a layer whose histogram collapses to a spike at 0 "
    "(or piles up at the saturation limits) is a problem.",
)
def histograms(run: RunData):
    records = run.diagnostics_with("histograms")
    sets = histogram_sets(records[-1]["histograms"]) if records else {}
    if not sets:
        raise MissingData("no histograms in diagnostics.jsonl (train with --diagnostics-every N)")
    kinds = [k for k in ("activations", "gradients") if k in sets]
    fig, axes = new_figure(5.2 * len(kinds) + 0.6, 4.2, 1, len(kinds), squeeze=False)
    draw_histograms(axes[0], records[-1])
    fig.suptitle(f"histograms at step {records[-1].get('step', '?')}")
    return fig


@figure(
    "attention",
    "Attention weights of every head (columns) in every layer (rows) on a prompt: row t "
    "shows how much position t (the query) looks at each earlier position (keys). The "
    "upper triangle is empty because a GPT never looks ahead.",
)
def attention(run: RunData, prompt: str | None = None, max_tokens: int = 48):
    matplotlib = require_matplotlib()
    inside = run.inside
    loaded = inside.loaded
    model, tok, context = loaded.model, loaded.tokenizer, loaded.trained_context
    if not hasattr(model, "attention_maps"):
        raise MissingData(f"the {loaded.config.model.arch} model has no attention")
    if prompt is not None:
        if not prompt:
            raise ConfigError("--prompt is empty; give some text to look at.")
        ids = tok.encode(prompt)[-min(max_tokens, context) :]  # the model's view of it
    else:
        ids, _ = run.snippet_ids(min(24, context))
    if not ids:
        raise MissingData("the prompt has no tokens")
    maps = inside.attention_maps(ids)
    L, H, T = len(maps), maps[0].shape[0], len(ids)
    big = L * H > 16
    panel = 1.7 if big else (2.6 if T <= 24 else 3.2)
    fig, axes = new_figure(H * panel + 0.9, L * panel + 0.7, L, H, squeeze=False)
    labels = [token_label(tok, i) for i in ids]
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="white")
    show_labels = not big and T <= 32
    for l in range(L):
        for h in range(H):
            ax = axes[l][h]
            future = np.triu(np.ones((T, T), dtype=bool), k=1)  # never attended: drawn blank
            im = ax.imshow(np.ma.masked_array(maps[l][h], future), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.grid(False)
            ax.set_title(f"layer {l} · head {h}", fontsize=8.5 if not big else 7)
            # token labels on the outer panels only (they are the same everywhere)
            ax.set_xticks(range(T), labels if show_labels and l == L - 1 else [], fontsize=6.5, rotation=90)
            ax.set_yticks(range(T), labels if show_labels and h == 0 else [], fontsize=6.5)
            ax.tick_params(length=0)
            if l == L - 1 and show_labels:
                ax.set_xlabel("key (attended to)", fontsize=8)
            if h == 0 and show_labels:
                ax.set_ylabel("query", fontsize=8)
    shown = tok.decode(ids).replace("\n", "⏎")
    shown = shown if len(shown) <= 60 else shown[:57] + "…"
    fig.suptitle(f"attention on “{shown}”", fontsize=11)
    fig.colorbar(im, ax=axes, shrink=0.6, label="attention weight")
    return fig


@figure(
    "embeddings",
    "The token embedding table (a ladder model's character table C) projected onto its first "
    "two principal components (PCA by SVD; a 2-wide table is drawn as it is). Tokens the model "
    "uses alike end up close together, e.g. vowels, digits or punctuation.",
)
def embeddings(run: RunData, max_labels: int = 120):
    model, tok = run.model()
    V = tok.vocab_size
    table = model.embedding() if hasattr(model, "embedding") else model.transformer.wte.weight
    if table is None:
        raise MissingData(f"the {run.config.get('model', {}).get('arch')} model has no embedding table")
    W = table.detach()[:V].double().numpy()
    if V < 3:
        raise MissingData("a vocabulary of fewer than 3 tokens has nothing to project")
    Wc = W - W.mean(axis=0)
    if W.shape[1] == 2:  # already 2-D (the lecture's C of width 2): the vectors themselves
        P, share, axes_named = W, None, ("dimension 0", "dimension 1")
    else:
        U, S, _ = np.linalg.svd(Wc.T @ Wc)  # PCA: principal axes of the C×C scatter matrix
        P, share = Wc @ U[:, :2], S[:2] / max(S.sum(), 1e-30)
        axes_named = (f"PC1 ({share[0]:.0%} of variance)", f"PC2 ({share[1]:.0%} of variance)")
    if V <= max_labels:
        labelled = np.arange(V)
    else:  # the most frequent tokens of the training text (unused ids stay unlabelled)
        counts = np.bincount(np.asarray(run.tokens("train"), dtype=np.int64), minlength=V)[:V]
        order = np.argsort(-counts, kind="stable")
        labelled = order[counts[order] > 0][:max_labels] if counts.any() else order[:max_labels]
    fig, ax = new_figure(8, 6.4)
    ax.scatter(P[:, 0], P[:, 1], s=10, color=theme.MUTED, alpha=0.35, linewidths=0)

    def colour(s: str) -> str:
        if len(s) != 1:
            return theme.BLUE
        return (
            theme.BLUE
            if s.isalpha() and s.lower() not in "aeiou"
            else theme.RED
            if s.isalpha()
            else theme.GREEN
            if s.isdigit()
            else theme.MUTED
            if s.isspace()
            else theme.ORANGE
        )

    for i in labelled:
        raw = tok.token_bytes(int(i)).decode("utf-8", errors="replace")
        ax.annotate(
            token_label(tok, int(i)),
            (P[i, 0], P[i, 1]),
            ha="center",
            va="center",
            fontsize=9 if V <= max_labels else 7,
            color=colour(raw),
            fontweight="bold",
        )
    ax.set_xlabel(axes_named[0])
    ax.set_ylabel(axes_named[1])
    what = "all tokens" if V <= max_labels else f"{len(labelled)} most frequent of {V} tokens labelled"
    members = getattr(getattr(model, "config", None), "ensemble", 1)  # an ensemble draws its first member's table
    whose = f", member 0 of {members}" if members > 1 else ""
    ax.set_title(f"token embeddings, {'2-D PCA' if share is not None else 'as learned (2-D)'} ({what}{whose})")
    single = sum(len(tok.token_bytes(int(i))) == 1 for i in labelled)
    if single >= 0.8 * len(labelled):
        Line2D = require_matplotlib().lines.Line2D
        keys = [
            ("consonant", theme.BLUE),
            ("vowel", theme.RED),
            ("digit", theme.GREEN),
            ("punctuation", theme.ORANGE),
            ("whitespace", theme.MUTED),
        ]
        ax.legend(
            handles=[Line2D([], [], ls="", marker="s", color=c, label=k) for k, c in keys], loc="best", fontsize=8
        )
    return fig
