"""``--log tensorboard``: event files in ``RUN/tensorboard`` (``tensorboard --logdir RUN``).

Every numeric value of every metrics record becomes a scalar under its ``metrics.jsonl`` name
(``train_loss``, ``val_loss``, ``lr``, ``grad_norm``, ``tokens_per_sec`` ...) at its step; the
configuration is a text at the first step, the samples are texts at their steps, and the final
evaluation is ``final/...`` at the last step.  A resumed run writes into the same folder with
``purge_step`` set to the first step it trains again, so TensorBoard hides what a killed run had
logged past its checkpoint, as ``metrics.jsonl`` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from glassgpt.rundir.layout import TENSORBOARD_DIR
from glassgpt.tracking.base import Tracker, numbers
from glassgpt.tracking.stored import store_tracker
from glassgpt.training.callbacks import RunStart


class TensorBoardTracker(Tracker):
    name, module, folder = "tensorboard", "tensorboard", TENSORBOARD_DIR

    def start(self, run: RunStart) -> None:
        from torch.utils.tensorboard import SummaryWriter

        store_tracker(run.run_dir, self.name, {"log_dir": self.folder})
        purge = run.step + 1 if run.resumed else None
        self.writer = SummaryWriter(str(run.run_dir / self.folder), purge_step=purge)
        if not run.resumed:
            text = json.dumps(run.config.to_dict(), indent=2)
            self.writer.add_text("config", "    " + text.replace("\n", "\n    "), 0)  # Markdown: a code block

    def record(self, record: dict[str, Any]) -> None:
        for key, value in numbers(record).items():
            self.writer.add_scalar(key, value, record["step"])

    def samples(self, step: int, pairs: list[tuple[str, str]]) -> None:
        text = "\n\n".join("    " + (prompt + sample).replace("\n", "\n    ") for prompt, sample in pairs)
        self.writer.add_text("samples", text, step)

    def end(self, summary: dict[str, Any]) -> None:
        for key, value in numbers(summary.get("final") or {}).items():
            self.writer.add_scalar(f"final/{key}", value, summary["steps"])

    def close(self, report: Path | None, failed: bool = False) -> None:
        if hasattr(self, "writer"):
            self.writer.close()
