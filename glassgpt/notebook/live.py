"""The live training figure of a notebook: loss, learning rate and gradient norm, redrawn as
the run trains, at most once every ``interval`` seconds, and once more at the end.

It is a training callback (``training.callbacks``): the loop hands it every metrics record
and never waits on it except for the drawing itself (about a tenth of a second).  A resumed
run's figure starts with the records ``metrics.jsonl`` already holds.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

from glassgpt.plotting import new_figure
from glassgpt.rundir.records import read_metrics
from glassgpt.training.callbacks import Callback, RunStart

#: seconds between two redraws
INTERVAL_S = 3.0
#: the panels: (title, the metrics.jsonl keys drawn in it, log scale)
PANELS = (
    ("loss", ("train_loss", "val_loss", "train_eval_loss"), False),
    ("learning rate", ("lr",), False),
    ("gradient norm", ("grad_norm",), True),
)


def notebook_display() -> Callable[[bytes], None]:
    """Show a PNG in the running notebook, replacing the one shown before (one output, updated)."""
    from IPython.display import Image, display

    handle = None

    def show(png: bytes) -> None:
        nonlocal handle
        if handle is None:
            handle = display(Image(data=png, format="png"), display_id=True)
        else:
            handle.update(Image(data=png, format="png"))

    return show


class LiveFigure(Callback):
    """``interval``: seconds between redraws (default ``INTERVAL_S``); ``show``: where a drawn
    PNG goes (default: the notebook's output); ``clock``: seconds."""

    def __init__(
        self,
        interval: float | None = None,
        show: Callable[[bytes], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.interval, self.clock = INTERVAL_S if interval is None else interval, clock
        self.show = show or notebook_display()
        self.series: dict[str, list[tuple[int, float]]] = {key: [] for _, keys, _ in PANELS for key in keys}
        self.title, self.max_steps, self.last = "", 0, {}
        self.drawn_at: float | None = None
        self.draws = 0

    def start(self, run: RunStart) -> None:
        self.title, self.max_steps = str(run.run_dir), run.config.train.max_steps
        for record in read_metrics(run.run_dir):  # a resumed run: what it trained before
            if record.get("step", 0) <= run.step:
                self._add(record)

    def _add(self, record: dict[str, Any]) -> None:
        for key, points in self.series.items():
            if isinstance(record.get(key), (int, float)):
                points.append((int(record["step"]), float(record[key])))
        self.last = {**self.last, **record}

    def record(self, record: dict[str, Any]) -> None:
        self._add(record)
        if self.drawn_at is None or self.clock() - self.drawn_at >= self.interval:
            self.draw()

    def end(self, summary: dict[str, Any]) -> None:
        self.last = {**self.last, "final": summary.get("final") or {}}
        self.draw()

    def caption(self) -> str:
        """The figure's title: where the run is and its latest numbers."""
        parts = [f"{self.title}: step {self.last.get('step', 0):,} of {self.max_steps:,}"]
        for key, label in (("train_loss", "train"), ("val_loss", "val"), ("train_eval_loss", "train (fixed batches)")):
            if isinstance(self.last.get(key), (int, float)):
                parts.append(f"{label} {self.last[key]:.4f}")
        final = self.last.get("final") or {}
        if isinstance(final.get("loss"), (int, float)):
            parts.append(f"final {final.get('split', 'val')} loss {final['loss']:.4f}")
        return "   ".join(parts)

    def draw(self) -> None:
        """Draw the figure and show it."""
        fig, axes = new_figure(12, 3.2, 1, len(PANELS), dpi=80, layout="constrained")
        for ax, (title, keys, log) in zip(axes, PANELS):
            for key in keys:
                if self.series[key]:
                    steps, values = zip(*self.series[key])
                    ax.plot(steps, values, marker="o" if key != "train_loss" else None, markersize=3, label=key)
            ax.set_title(title)
            ax.set_xlabel("step")
            if log and any(v > 0 for k in keys for _, v in self.series[k]):
                ax.set_yscale("log")
            if sum(bool(self.series[k]) for k in keys) > 1:
                ax.legend()
        fig.suptitle(self.caption())
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.show(buffer.getvalue())
        self.drawn_at, self.draws = self.clock(), self.draws + 1
