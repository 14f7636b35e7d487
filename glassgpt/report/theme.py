"""One look for every figure and for the HTML report: a palette, a matplotlib style, the CSS.

Figures and page share the palette, so "validation" is the same orange in the loss curve
and in the report's text, and a token's colour in the explain strip means the same thing
as in a legend.
"""

from __future__ import annotations

import math

INK, MUTED, GRID = "#1f2933", "#6b7785", "#e4e7eb"
BLUE, ORANGE, GREEN, RED, PURPLE, TEAL = "#2f6db5", "#e07b39", "#3a9d5d", "#c03d3e", "#7b5ea7", "#2a9d9c"
CYCLE = [BLUE, ORANGE, GREEN, RED, PURPLE, TEAL, "#b5892f", "#5f6b7a"]

#: every figure is drawn at this resolution; a figure's pixel size is its inches × DPI
DPI = 100

MPL_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": INK,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlecolor": INK,
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "lines.linewidth": 1.6,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "savefig.facecolor": "white",
}


def loss_colour(loss: float, worst: float) -> str:
    """Background colour of a token in the explain strip: green when the model predicted it
    well (loss near 0), through yellow, to red at ``worst`` nats and beyond."""
    t = 0.0 if worst <= 0 or not math.isfinite(loss) else min(max(loss / worst, 0.0), 1.0)
    stops = [(0.0, (198, 239, 206)), (0.5, (255, 235, 156)), (1.0, (255, 168, 160))]
    for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(c0, c1))
    return "#ffa8a0"


CSS = """
:root { --ink: #1f2933; --muted: #6b7785; --line: #e4e7eb; --bg: #f6f7f9; --card: #fff;
        --blue: #2f6db5; --orange: #e07b39; --green: #3a9d5d; --red: #c03d3e; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink); line-height: 1.5;
       font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 16px; }
header { background: linear-gradient(135deg, #1f3b63, #2f6db5); color: #fff; }
header .inner { max-width: 1040px; margin: 0 auto; padding: 22px 16px 18px; }
header h1 { margin: 0 0 4px; font-size: 1.55rem; letter-spacing: .01em; }
header p { margin: 0; opacity: .85; font-size: .92rem; overflow-wrap: anywhere; }
nav { display: flex; flex-wrap: wrap; gap: 6px 14px; margin-top: 12px; font-size: .88rem; }
nav a { color: #fff; opacity: .9; text-decoration: none; border-bottom: 1px solid rgba(255,255,255,.4); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
          padding: 16px 18px; margin: 16px 0; }
h2 { font-size: 1.15rem; margin: 0 0 10px; }
h3 { font-size: .98rem; margin: 14px 0 6px; }
p.note, .note { color: var(--muted); font-size: .88rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: #fbfcfd; }
.card .label { color: var(--muted); font-size: .78rem; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 1.3rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.grid3 { display: grid; grid-template-columns: repeat(auto-fit, minmax(250px, 1fr)); gap: 12px; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 700; border-top: 2px solid var(--ink); }
figure { margin: 0 0 18px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .86rem; margin-top: 4px; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
pre.sample { white-space: pre-wrap; overflow-wrap: anywhere; background: #f3f5f8; border-radius: 6px;
             padding: 10px 12px; margin: 4px 0 14px; font-size: .85rem; max-height: 22em; overflow-y: auto; }
.strip { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
         font-size: .95rem; line-height: 2.0; white-space: pre-wrap; overflow-wrap: anywhere;
         background: #fbfcfd; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.tok { border-radius: 3px; padding: 2px 1px; box-shadow: inset 0 -1px 0 rgba(0,0,0,.08); }
.tok.ctx { color: var(--muted); box-shadow: none; }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; font-size: .82rem;
          color: var(--muted); margin: 8px 0; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px;
          margin-right: 4px; border: 1px solid rgba(0,0,0,.08); }
footer { color: var(--muted); font-size: .8rem; text-align: center; padding: 8px 16px 28px; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  main { padding: 10px; }
  section { padding: 12px; border-radius: 8px; }
  header h1 { font-size: 1.3rem; }
  .card .value { font-size: 1.1rem; }
}
"""
