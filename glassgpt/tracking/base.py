"""What every experiment tracker is: a training callback that also knows its package, its
folder in the run directory, and how to close (after the run report is written)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from glassgpt.errors import ConfigError
from glassgpt.fileio import check_writable
from glassgpt.training.callbacks import Callback


def numbers(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric entries of ``values`` (nested dictionaries flattened as ``a/b``), the way a
    tracker plots them; ``step`` and text are left out."""
    out: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(numbers(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step":
            out[prefix + key] = float(value)
    return out


class Tracker(Callback):
    """One tracker of ``--log``: a ``Callback`` (``training.callbacks``) plus ``close``."""

    #: the name ``--log`` takes, the module it imports and the pip extra that installs it
    name: str = ""
    module: str = ""
    #: its folder inside the run directory (``rundir.layout``)
    folder: str = ""

    def __init__(self, stored: dict[str, Any] | None = None):
        """``stored``: this tracker's entry of ``trackers.json`` (a resumed run's tracker run)."""
        self.stored = dict(stored or {})

    @classmethod
    def require(cls, run_dir: Path) -> None:
        """Refuse, before the run starts, a tracker whose package is missing or whose folder
        cannot be written (one sentence each)."""
        try:
            importlib.import_module(cls.module)
        except ImportError:
            raise ConfigError(
                f"--log {cls.name} needs the {cls.module} package, which is not installed; "
                f"install it with: pip install 'glassgpt[{cls.name}]'."
            ) from None
        check_writable(
            run_dir / cls.folder, f"the {cls.name} log directory", "make it a writable folder or choose another --out"
        )

    def close(self, report: Path | None, failed: bool = False) -> None:
        """The session is over (``report``: the run's ``report.html``, None when none was
        written; ``failed``: it ended with an error)."""
