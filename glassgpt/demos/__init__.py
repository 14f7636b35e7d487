"""The worked examples of docs/curriculum.md, each computed (never hard-coded) by its own module.

A demo module defines ``NAME`` (the ``glassgpt demo NAME`` word), ``SUMMARY`` (one line)
and ``run(plot: bool = False, out_dir: str = ".") -> dict``, which prints its tables,
saves its figure to ``out_dir`` when ``plot`` is true, and returns the computed numbers
so tests can assert them.  Modules are discovered automatically.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from glassgpt.demos._show import wide as wide_output
from glassgpt.errors import ConfigError
from glassgpt.fileio import check_writable


def _modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            found[module.NAME] = module
    return dict(sorted(found.items()))


def list_demos() -> list[tuple[str, str]]:
    """(name, one-line summary) of every demo, sorted by name."""
    return [(name, m.SUMMARY) for name, m in _modules().items()]


def run_demo(name: str, plot: bool = False, out_dir: str = ".", wide: bool = False) -> dict:
    """Run one demo; with ``plot`` its figure goes to ``out_dir`` (checked before the demo
    runs); ``wide`` prints tables and paragraphs at any width instead of fitting the terminal."""
    modules = _modules()
    if name not in modules:
        raise ConfigError(f"unknown demo {name!r}; choose one of: {', '.join(modules)}.")
    if plot:
        check_writable(out_dir, "--out", "choose a folder you can write to")
    with wide_output(wide):
        return modules[name].run(plot=plot, out_dir=out_dir)
