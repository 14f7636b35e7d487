"""Everything a figure or the report reads from a run directory, read once and cached.

``RunData(run_dir)`` tolerates a run that is still going or was stopped early: every
accessor returns an empty value for a missing file (a torn last JSONL line is skipped),
and figures decide from that whether to draw or to skip.

It reads files only (NumPy, no torch): the model and what is computed from it are
``RunData.inside`` (``report.inside``), opened the first time a figure looks inside the model.
"""

from __future__ import annotations

import json
import math
from functools import cached_property
from pathlib import Path

import numpy as np

from glassgpt import rundir
from glassgpt.data.tokens import open_split
from glassgpt.errors import GlassError
from glassgpt.makemore.words import WordData


class MissingData(GlassError):
    """The data a figure (or report section) needs is not in the run; it is skipped."""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class RunData:
    """Lazy, cached views of one run directory."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)

    def require(self) -> RunData:
        """Check the directory holds a readable run (config, weights, tokenizer)."""
        rundir.require_run(self.dir)
        return self

    @cached_property
    def config(self) -> dict:
        return _read_json(self.dir / rundir.CONFIG)

    @cached_property
    def metrics(self) -> list[dict]:
        return rundir.read_records(self.dir / rundir.METRICS)

    @cached_property
    def diagnostics(self) -> list[dict]:
        return rundir.read_records(self.dir / rundir.DIAGNOSTICS)

    @cached_property
    def samples(self) -> list[dict]:
        return rundir.read_records(self.dir / rundir.SAMPLES)

    @cached_property
    def summary(self) -> dict:
        return _read_json(self.dir / rundir.SUMMARY)

    @cached_property
    def lr_finder(self) -> dict:
        return _read_json(self.dir / rundir.LR_FINDER)

    @property
    def plots_dir(self) -> Path:
        return self.dir / rundir.PLOTS_DIR

    @property
    def vocab_size(self) -> int:
        return int(self.config.get("model", {}).get("vocab_size") or 0)

    @property
    def title(self) -> str:
        preset = self.config.get("preset") or "custom"
        return f"{self.dir.name} ({preset})"

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of every metrics record that has a finite ``key``."""
        pts = [
            (r["step"], r[key])
            for r in self.metrics
            if isinstance(r.get(key), (int, float)) and math.isfinite(r[key]) and "step" in r
        ]
        if not pts:
            return np.zeros(0), np.zeros(0)
        steps, values = zip(*pts)
        return np.asarray(steps, dtype=float), np.asarray(values, dtype=float)

    def diagnostics_with(self, key: str) -> list[dict]:
        return [r for r in self.diagnostics if r.get(key) not in (None, {}, [])]

    # ---- the model, for figures that look inside it -----------------------------------------
    @cached_property
    def inside(self):
        """The model on the CPU and what figures compute from it (``report.inside.Inside``),
        opened on first use; ``MissingData`` when the model cannot be loaded."""
        from glassgpt.report.inside import Inside  # torch: only for a figure that looks inside the model

        return Inside(self)

    def loaded(self):
        """The run opened as a model on the CPU (``models.from_run.LoadedRun``), loaded once."""
        return self.inside.loaded

    def model(self):
        """``(model, tokenizer)`` on the CPU, loaded once."""
        return self.loaded().model, self.loaded().tokenizer

    @property
    def is_gpt(self) -> bool:
        return (self.config.get("model") or {}).get("arch", "gpt") == "gpt"

    @cached_property
    def words(self) -> WordData | None:
        """A word-list run's words and split (None for a text run, or when they cannot be read)."""
        if (self.config.get("data") or {}).get("kind") != "words":
            return None
        try:
            return self.inside.words()
        except GlassError:
            return None

    def tokens(self, split: str) -> np.ndarray:
        try:
            return open_split(self.dir / rundir.DATA_DIR, split)
        except GlassError:
            return np.zeros(0, dtype=np.int64)

    def snippet_ids(self, n: int) -> tuple[list[int], str]:
        """The first ``n`` token ids of the validation split (the training split when there
        is no validation text) and the split's name."""
        for split in ("val", "train"):
            toks = self.tokens(split)
            if len(toks) >= 2:
                return [int(t) for t in toks[:n]], split
        raise MissingData("the run has no token data (data/*.bin)")


# ---- gradient statistics per component (docs/curriculum.md, A8) -------------------------------
#: the parameter groups of ``training.diagnostics``, in display order
COMPONENTS = ("embeddings", "attention", "mlp", "norms", "head")


def latest_components(run: RunData) -> tuple[dict, str]:
    """Mean |grad| per component: the latest diagnostics record, else the final weights."""
    records = run.diagnostics_with("components")
    if records:
        rec = records[-1]
        return rec["components"], f"diagnostics at step {rec.get('step', '?')}"
    return run.inside.final_gradient_components()
