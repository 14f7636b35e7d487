"""``--log wandb``: the run in Weights & Biases, online when you have logged in, offline otherwise.

It logs every metrics record as ``metrics.jsonl`` has it (W&B's x axis is the record's
``step``), the configuration as the W&B config, the samples of the end of the run as a
table, the final evaluation in the run summary, and ``report.html`` as an HTML panel.
W&B's files go into ``RUN/wandb``.  The W&B run id is kept in ``trackers.json``, so a resumed
glassgpt run continues the same W&B run.

Online or offline: ``WANDB_MODE`` decides when it is set (``offline``, ``online``,
``disabled``); otherwise a W&B API key (``WANDB_API_KEY``, or ``wandb login``'s entry in
``~/.netrc``) means online, and no key means offline, with a note on stderr saying how to
upload the run later (``wandb sync``).  Nothing waits on a prompt.
"""

from __future__ import annotations

import netrc
import os
import secrets
import string
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from glassgpt.errors import GlassError
from glassgpt.rundir.layout import WANDB_DIR
from glassgpt.tracking.base import Tracker, numbers
from glassgpt.tracking.stored import store_tracker
from glassgpt.training.callbacks import RunStart

#: the W&B project of a run that names none (``WANDB_PROJECT`` names one)
PROJECT = "glassgpt"


def new_run_id() -> str:
    """A new W&B run id: eight random lowercase letters and digits, as W&B makes them."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def logged_in() -> bool:
    """Whether W&B has an API key: ``WANDB_API_KEY``, or a ``.netrc`` entry for its host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or ""
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def mode() -> str | None:
    """None when ``WANDB_MODE`` or a login lets W&B decide; ``"offline"`` otherwise."""
    return None if os.environ.get("WANDB_MODE") or logged_in() else "offline"


class WandbTracker(Tracker):
    name, module, folder = "wandb", "wandb", WANDB_DIR

    def start(self, run: RunStart) -> None:
        import wandb

        entry = {
            "id": self.stored.get("id") or new_run_id(),
            "project": self.stored.get("project") or os.environ.get("WANDB_PROJECT", PROJECT),
        }
        store_tracker(run.run_dir, self.name, entry)  # first: a resume finds the id even if W&B fails to start
        chosen = mode()
        try:
            self.run = wandb.init(
                project=entry["project"],
                id=entry["id"],
                resume="allow",
                dir=str(run.run_dir),
                name=run.run_dir.name,
                config=run.config.to_dict(),
                mode=chosen,
                settings=wandb.Settings(console="off", silent=True),
            )
        except Exception as exc:  # noqa: BLE001 - a login, network or server problem of W&B's own
            raise GlassError(
                f"W&B could not start its run ({exc.__class__.__name__}: {exc}); set WANDB_MODE=offline to log "
                "offline, or leave out --log wandb (--log none for a run that logged to it before)."
            ) from None
        self.run.define_metric("step")
        self.run.define_metric("*", step_metric="step")
        self.last_samples: tuple[int, list[tuple[str, str]]] = (0, [])
        if chosen == "offline":
            print(
                f"note: W&B logs offline into {run.run_dir / self.folder} (no W&B login found); "
                f"`wandb sync {run.run_dir / self.folder}/offline-run-*` uploads it.",
                file=sys.stderr,
            )

    def record(self, record: dict[str, Any]) -> None:
        self.run.log(dict(record))

    def samples(self, step: int, pairs: list[tuple[str, str]]) -> None:
        self.last_samples = (step, pairs)

    def end(self, summary: dict[str, Any]) -> None:
        import wandb

        step, pairs = self.last_samples
        if pairs:
            rows = [[step, prompt, text] for prompt, text in pairs]
            self.run.log({"step": step, "samples": wandb.Table(columns=["step", "prompt", "text"], data=rows)})
        self.run.summary.update({f"final/{k}": v for k, v in numbers(summary.get("final") or {}).items()})

    def close(self, report: Path | None, failed: bool = False) -> None:
        if not hasattr(self, "run"):
            return
        import wandb

        if report is not None and report.is_file():
            self.run.log({"report": wandb.Html(report.read_text(encoding="utf-8"))})
        self.run.finish(exit_code=1 if failed else 0)
