"""The run report: one self-contained HTML page per run (``report.html``).

It holds the configuration, the parameter table, every figure (inline PNG ``data:``
URIs), the samples taken during training, the final evaluation and an ``explain`` view
of a validation snippet.  No network, no scripts, no external CSS or fonts: the file
can be mailed, archived, or opened on a phone.  Every piece of text from the run is
escaped.  The page is written atomically, so a reader never sees half of it.
"""

from __future__ import annotations

import base64
import html
import math
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from glassgpt import rundir
from glassgpt.errors import FileError, GlassError, RunDirError
from glassgpt.fileio import atomic_write_text, check_writable
from glassgpt.progress import task
from glassgpt.report import theme
from glassgpt.report.figures import FIGURES, DrawnFigure, render
from glassgpt.report.rundata import MissingData, RunData
from glassgpt.rundir.loss_names import final_loss
from glassgpt.version import __version__

#: tokens of validation text shown in the explain strip
EXPLAIN_TOKENS = 60
#: at most this many samples are shown (the latest ones)
MAX_SAMPLES = 20


def esc(value) -> str:
    return html.escape(str(value), quote=True)


@dataclass
class ReportResult:
    path: Path
    figures: list[DrawnFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def write_report(
    run_dir: str | Path, figures: bool = True, prompt: str | None = None, progress: bool = False
) -> ReportResult:
    """Draw the figures into ``DIR/plots/`` and write ``DIR/report.html``.  Without
    matplotlib the report is written without figures and the reason is in ``notes``.
    A run directory that cannot be written is refused before any work; ``progress`` shows
    what is being done."""
    run = RunData(run_dir).require()
    try:
        check_writable(run.dir, "the run directory", "make it writable, or copy the run and report on the copy")
    except FileError as exc:
        raise RunDirError(f"cannot write the report: {exc}") from None
    rendered, notes = [], []
    if figures:
        try:
            rendered = render(run, "all", prompt=prompt, progress=progress)
        except GlassError as exc:
            notes.append(f"figures skipped: {exc}")
    with task("writing the report", enabled=progress):
        page = build_html(run, rendered, notes)
    path = run.dir / rundir.REPORT
    atomic_write_text(path, page)
    return ReportResult(path, rendered, notes)


# ---- numbers and small pieces ---------------------------------------------------------------
def fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:,.0f}" if abs(v) >= 1e5 and v.is_integer() else f"{v:.4g}"
    if v in ("", None):
        return "—"
    return str(v)


def duration(seconds: float) -> str:
    seconds = float(seconds or 0)
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def card(label: str, value: str) -> str:
    return f'<div class="card"><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div></div>'


def table(head: list[str], rows: list[list[str]], num: set[int] = frozenset(), total: list[str] | None = None) -> str:
    """An escaped table; columns in ``num`` are right-aligned numbers."""
    cls = lambda i: ' class="num"' if i in num else ""  # noqa: E731
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(row)) + "</tr>")
    if total:
        out.append('<tr class="total">' + "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(total)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


# ---- the sections ------------------------------------------------------------------------------
def summary_cards(run: RunData, n_params: int | None) -> str:
    s, final = run.summary, run.summary.get("final") or {}
    cards = []
    split, loss = final_loss(final)
    if loss is not None:
        cards.append(card(f"final {split} loss", f"{loss:.4f}"))
    if isinstance(final.get("perplexity"), (int, float)):
        cards.append(card("perplexity", f"{final['perplexity']:.3f}"))
    if isinstance(final.get("bits_per_byte"), (int, float)):
        cards.append(card("bits per byte", f"{final['bits_per_byte']:.4f}"))
    if n_params:
        cards.append(card("parameters", f"{n_params:,}"))
    last = run.metrics[-1] if run.metrics else {}
    steps = s.get("steps", last.get("step"))
    if steps is not None:
        cards.append(card("steps", f"{steps:,}"))
    tokens = s.get("tokens", last.get("tokens"))
    if tokens:
        cards.append(card("tokens seen", f"{tokens:,}"))
    elapsed = s.get("elapsed_s", last.get("elapsed_s"))
    if elapsed:
        cards.append(card("training time", duration(elapsed)))
    speeds = sorted(r["tokens_per_sec"] for r in run.metrics if isinstance(r.get("tokens_per_sec"), (int, float)))
    if speeds:
        cards.append(card("tokens / s (median)", f"{speeds[len(speeds) // 2]:,.0f}"))
    return f'<div class="cards">{"".join(cards)}</div>' if cards else note("No metrics yet.")


def figures_section(rendered: list[DrawnFigure], notes: list[str]) -> str:
    parts = [note(n) for n in notes]
    for r in rendered:
        if r.path is None:
            continue
        data = Path(r.path).read_bytes()
        size = png_size(data)
        wh = f' width="{size[0]}" height="{size[1]}"' if size else ""
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        caption = FIGURES[r.name].caption if r.name in FIGURES else ""
        parts.append(
            f'<figure id="fig-{esc(r.name)}"><img src="{uri}" alt="{esc(r.name)}: {esc(caption)}"{wh}>'
            f"<figcaption><b>{esc(r.name)}</b> — {esc(caption)}</figcaption></figure>"
        )
    skipped = [r for r in rendered if r.path is None]
    if skipped:
        items = "".join(f"<li><b>{esc(r.name)}</b>: {esc(r.note)}</li>" for r in skipped)
        parts.append(f'<h3>Not drawn for this run</h3><ul class="note">{items}</ul>')
    return "".join(parts) or note("No figures.")


def params_section(run: RunData) -> tuple[str, int | None]:
    try:
        inside = run.inside
    except MissingData as exc:
        return note(f"Parameter table unavailable: {exc}."), None
    rows, kinds, total = inside.param_rows()
    body = table(
        ["part", "tensors", "parameters", "share"], rows, num={2, 3}, total=["total", "", f"{total:,}", "100%"]
    )
    by_kind = " · ".join(f"{k} {v:,}" for k, v in kinds.items())
    tied = (
        " The LM head shares the token embedding matrix (tied), so it is counted once."
        if getattr(inside.loaded.model.config, "tie_weights", False)
        else ""
    )
    body += note(f"By component: {by_kind}.{tied}")
    return body, total


def config_section(run: RunData) -> str:
    cfg = run.config
    if not cfg:
        return note("config.json is missing or unreadable.")
    parts = []
    for sec in ("model", "data", "train"):
        values = cfg.get(sec) or {}
        rows = [[k, fmt(v) if not isinstance(v, int) or isinstance(v, bool) else str(v)] for k, v in values.items()]
        parts.append(f"<div><h3>[{esc(sec)}]</h3>{table(['key', 'value'], rows)}</div>")
    preset = note(f"Preset: {cfg.get('preset') or 'none'}. The exact file is config.json in the run directory.")
    return preset + f'<div class="grid3">{"".join(parts)}</div>'


def samples_section(run: RunData) -> str:
    samples = [s for s in run.samples if isinstance(s.get("text"), str)]
    if not samples:
        return note("No samples were recorded (samples.jsonl is empty or missing).")
    shown = samples[-MAX_SAMPLES:]
    head = note(f"The last {len(shown)} of {len(samples)} samples.") if len(shown) < len(samples) else ""
    items = "".join(
        f'<h3>step {esc(fmt(s.get("step", "?")))}</h3><pre class="sample">{esc(s["text"])}</pre>' for s in shown
    )
    return head + items


def evaluation_section(run: RunData) -> str:
    s = run.summary
    if not s:
        return note("The run has not finished yet (no summary.json): there is no final evaluation.")
    final = s.get("final") or {}
    split, loss = final_loss(final)
    names = {
        "split": "evaluated split",
        "loss": f"mean {split} loss (nats / token)",
        "perplexity": "perplexity",
        "bits_per_byte": "bits per byte",
        "tokens": "tokens evaluated",
        "bytes": "UTF-8 bytes evaluated",
    }
    rows = [["evaluated split", fmt(split)], [names["loss"], fmt(loss)]]
    rows += [[names.get(k, k), fmt(v)] for k, v in final.items() if k in names and k not in ("split", "loss")]
    for name, figures in (final.get("splits") or {}).items():  # a word list: every split
        if isinstance(figures, dict):
            rows.append(
                [f"{name} loss (nats / character, {fmt(figures.get('tokens'))} examples)", fmt(figures.get("loss"))]
            )
    rows += [
        ["steps", fmt(s.get("steps"))],
        ["stopped by", fmt(s.get("stopped_by"))],
        ["training time", duration(s.get("elapsed_s", 0))],
    ]
    vocab = run.vocab_size
    extra = (
        note(f"A uniform guess over {vocab} tokens would score ln {vocab} = {math.log(vocab):.4f}.")
        if vocab > 1
        else ""
    )
    return table(["", "value"], rows, num={1}) + extra


def _pieces(tokenizer, ids: list[int]) -> list[str]:
    """The text each id adds to the decoded string (falls back to ``token_str``)."""
    out, prev = [], ""
    for i in range(len(ids)):
        cur = tokenizer.decode(ids[: i + 1])
        out.append(cur[len(prev) :] if cur.startswith(prev) else tokenizer.token_str(ids[i]))
        prev = cur
    return out


def _show(piece: str) -> str:
    return esc(piece).replace("\n", "⏎\n").replace("\t", "⇥\t") if piece else "∅"


def explain_section(run: RunData) -> str:
    if run.words is not None or not run.is_gpt:
        return note("The explain view reads a text; this run learned a word list (its names are under Samples).")
    try:
        inside = run.inside
        tok = inside.loaded.tokenizer
        n = min(EXPLAIN_TOKENS, inside.loaded.trained_context)
        ids, split = run.snippet_ids(n + 1)
        text = tok.decode(ids)
        result = inside.explain(text, top_k=5)
        ids = tok.encode(text)
    except GlassError as exc:  # MissingData, or text the tokenizer cannot take back
        return note(f"Explain view unavailable: {exc}")
    rows = result["tokens"]
    pieces = _pieces(tok, ids)
    worst = math.log(tok.vocab_size) if tok.vocab_size > 1 else 1.0
    strip = [f'<span class="tok ctx" title="first token: context only">{_show(pieces[0])}</span>']
    for row, piece in zip(rows, pieces[1:]):
        top = " · ".join(f"{t!r} {p:.3f}" for t, p in row["top_k"])
        title = (
            f"target {row['target']!r}: P = {row['p_target']:.4f} · loss {row['loss']:.3f} nats · "
            f"rank {row['rank']}\ntop {len(row['top_k'])}: {top}"
        )
        strip.append(
            f'<span class="tok" style="background:{theme.loss_colour(row["loss"], worst)}" '
            f'title="{esc(title)}">{_show(piece)}</span>'
        )
    legend = "".join(
        f'<span><span class="swatch" style="background:{theme.loss_colour(v, worst)}"></span>{esc(t)}</span>'
        for v, t in (
            (0.0, "loss 0 (certain and right)"),
            (worst / 2, f"loss {worst / 2:.2f}"),
            (worst, f"loss ≥ ln V = {worst:.2f} (no better than guessing)"),
        )
    )
    hardest = sorted(rows, key=lambda r: -r["loss"])[:8]
    hard_rows = [
        [
            str(r["position"] + 1),
            f"{r['context']!r} → {r['target']!r}",
            f"{r['p_target']:.4f}",
            f"{r['loss']:.3f}",
            str(r["rank"]),
            ", ".join(f"{t!r} {p:.2f}" for t, p in r["top_k"]),
        ]
        for r in hardest
    ]
    return (
        note(
            f"The first {len(ids)} tokens of the {split} split. Each token's colour is the loss the model "
            "paid predicting it from everything before it; hover (or long-press) a token for its "
            "probability, loss, rank and the model's top guesses."
        )
        + f'<div class="legend">{legend}</div><div class="strip">{"".join(strip)}</div>'
        + f'<p class="note">mean loss {result["mean_loss"]:.4f} nats · perplexity {result["perplexity"]:.3f} · '
        + f"bits per byte {result['bits_per_byte']:.4f} over {len(rows)} predictions.</p>"
        + "<h3>The hardest predictions</h3>"
        + table(["position", "context → target", "P(target)", "loss", "rank", "top 5"], hard_rows, num={0, 2, 3, 4})
    )


def safe(build, *args) -> str:
    """A section's HTML, or a note saying why it could not be built (the rest of the
    report is still written)."""
    try:
        return build(*args)
    except Exception as exc:  # noqa: BLE001
        return note(f"This section could not be built ({exc.__class__.__name__}: {exc}).")


def build_html(run: RunData, rendered: list[DrawnFigure], notes: list[str]) -> str:
    try:
        params_body, n_params = params_section(run)
    except Exception as exc:  # noqa: BLE001
        params_body, n_params = note(f"The parameter table could not be built ({exc})."), None
    status = (
        f"finished: {run.summary.get('steps', '?')} steps, stopped by {run.summary.get('stopped_by', '?')}"
        if run.summary
        else "in progress or interrupted (no summary.json yet)"
    )
    cfg = run.config
    title = f"glassgpt run report: {run.dir.name}"
    sections = [
        section("summary", "Summary", safe(summary_cards, run, n_params)),
        section("figures", "Figures", safe(figures_section, rendered, notes)),
        section("explain", "What the model predicts, token by token", safe(explain_section, run)),
        section("samples", "Samples taken during training", safe(samples_section, run)),
        section("evaluation", "Final evaluation", safe(evaluation_section, run)),
        section("config", "Configuration", safe(config_section, run)),
        section("params", "Parameters", params_body),
    ]
    nav = "".join(
        f'<a href="#{a}">{esc(t)}</a>'
        for a, t in (
            ("figures", "Figures"),
            ("explain", "Explain"),
            ("samples", "Samples"),
            ("evaluation", "Evaluation"),
            ("config", "Configuration"),
            ("params", "Parameters"),
        )
    )
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sub = f"{run.dir.resolve()} · preset {cfg.get('preset') or 'none'} · {status} · written {generated}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="glassgpt {esc(__version__)}">
<title>{esc(title)}</title>
<link rel="icon" href="data:,">
<style>{theme.CSS}</style>
</head>
<body>
<header><div class="inner"><h1>{esc(title)}</h1><p>{esc(sub)}</p><nav>{nav}</nav></div></header>
<main>
{chr(10).join(sections)}
</main>
<footer>Written by glassgpt {esc(__version__)}. This page is self-contained: it needs no network.
Data: <code>metrics.jsonl</code>, <code>diagnostics.jsonl</code>, <code>samples.jsonl</code>,
<code>summary.json</code> in the run directory.</footer>
</body>
</html>
"""
