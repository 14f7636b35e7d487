"""A run as a notebook shows it: one HTML card (``TrainResult._repr_html_``, ``LoadedRun._repr_html_``).

The card reads the run directory only (``config.json``, ``summary.json``, ``plots/``): the
main settings, the final evaluation, the first sample, the loss curve when it was drawn, and
a link to ``report.html``.  A run still training shows its last metrics record instead.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from glassgpt.htmltable import Markup, cell, table
from glassgpt.rundir.layout import CONFIG, PLOTS_DIR, REPORT, SUMMARY
from glassgpt.rundir.records import read_metrics

#: the settings a card shows, where the run has them (section, key)
SHOWN = (
    ("model", "arch"),
    ("model", "n_layer"),
    ("model", "n_head"),
    ("model", "n_embd"),
    ("model", "block_size"),
    ("model", "vocab_size"),
    ("data", "corpus"),
    ("data", "path"),
    ("data", "tokenizer"),
    ("train", "engine"),
    ("train", "max_steps"),
    ("train", "batch_size"),
    ("train", "lr"),
    ("train", "seed"),
)
#: the figure a card shows, drawn by the report into plots/
LOSS_FIGURE = "loss.png"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _link(path: Path) -> str:
    """A path as the notebook's working folder reaches it (relative when it can be)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _final_rows(final: dict) -> list[tuple[object, ...]]:
    rows = [(key, _number(value)) for key, value in final.items() if key != "splits"]
    for split, values in (final.get("splits") or {}).items():
        rows += [(f"{split} {key}", _number(value)) for key, value in values.items() if key != "split"]
    return rows


def run_card(run_dir: str | Path) -> str:
    """The HTML of a run's card (every text escaped; the loss figure inline)."""
    path = Path(run_dir)
    config, summary = _read(path / CONFIG), _read(path / SUMMARY)
    title = f"run {path}" + (f" · {config['kind']}" if config.get("kind") else "")
    title += f" · preset {config['preset']}" if config.get("preset") else ""
    settings = [
        (f"{section}.{key}", _number(config[section][key]))
        for section, key in SHOWN
        if isinstance(config.get(section), dict) and config[section].get(key) not in (None, "", 0)
    ]
    parts = [f"<strong>{cell(title)}</strong>", table(settings, ("setting", "value"))]
    if summary:
        steps, stopped = summary.get("steps", 0), str(summary.get("stopped_by", "")).replace("_", " ")
        parts.append(f"<p>{cell(f'trained {steps:,} steps ({stopped})')}</p>")
        parts.append(table(_final_rows(summary.get("final") or {}), ("final evaluation", "")))
        if summary.get("sample"):
            parts.append(f"<pre>{cell(summary['sample'])}</pre>")
    else:
        step = (read_metrics(path) or [{}])[-1].get("step", 0)
        parts.append(f"<p>{cell(f'no summary yet: the last record is step {step:,}')}</p>")
    figure = path / PLOTS_DIR / LOSS_FIGURE
    if figure.is_file():
        data = base64.b64encode(figure.read_bytes()).decode("ascii")
        parts.append(f'<img alt="loss" style="max-width:480px" src="data:image/png;base64,{data}">')
    if (path / REPORT).is_file():
        parts.append(Markup(f'<p><a href="{cell(_link(path / REPORT))}" target="_blank">the run report</a></p>'))
    return '<div class="glassgpt-run">' + "".join(parts) + "</div>"
