"""Resolve: defaults, then a preset, then a TOML file, then ``--set`` overrides, in that order.

``resolve`` makes a new run's configuration.  ``resume`` makes a resumed run's: the stored
configuration with what the command line gives.  Running the same command again with
``--resume`` appended works: an option equal to the stored value changes nothing, training
settings may change (a larger ``--max-steps``), and a model or data setting that differs
from the stored one is refused, naming the stored value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from glassgpt.config.presets import DEFAULT, preset_settings
from glassgpt.config.schema import DataConfig, RunConfig, Settings
from glassgpt.config.validate import validate
from glassgpt.errors import ConfigError, RunDirError
from glassgpt.rundir.directory import require_resumable
from glassgpt.rundir.layout import CONFIG
from glassgpt.rundir.records import read_config_dict

#: overrides as ``{"train.lr": 3e-4}`` or ``["train.lr=3e-4"]``
Overrides = Mapping[str, Any] | Sequence[str] | None
#: ``same_data(stored, given)``: the data settings to continue with when ``given`` names the
#: data ``stored`` was trained on (moved, or by another path), else None
SameData = Callable[[DataConfig, DataConfig], DataConfig | None]

#: sections a resumed run may not change (its weights and data depend on them)
FROZEN_ON_RESUME = ("model", "data")


def load_toml(path: str | Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist.")
    try:
        table: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return table
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}).") from None


def parse_override(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}.")
    key, value = text.split("=", 1)
    return key.strip(), value


def override_items(overrides: Overrides) -> list[tuple[str, Any]]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    return [parse_override(o) for o in overrides]


def load_run_config(run_dir: str | Path, resuming: bool = False) -> RunConfig:
    """The configuration a run directory holds (``config.json``); one sentence when the
    folder holds no readable run (``resuming``: none that ``--resume`` can continue)."""
    if resuming:
        require_resumable(run_dir)
    try:
        return RunConfig.from_dict(read_config_dict(run_dir))
    except ConfigError as exc:
        raise RunDirError(f"{Path(run_dir) / CONFIG} is not a valid run configuration ({exc})") from None


def resolve(preset: str | None = None, config_file: str | Path | None = None, overrides: Overrides = None) -> RunConfig:
    """A new run's configuration: defaults, the preset, the TOML file, each override; validated."""
    settings = Settings.defaults()
    file_data = load_toml(config_file) if config_file else {}
    name = preset or file_data.pop("preset", None) or DEFAULT
    settings.apply(preset_settings(name), f"preset {name}").set("preset", name)
    if file_data:
        settings.apply(file_data, str(config_file))
    for key, value in override_items(overrides):
        settings.set(key, value)
    return validate(settings.build())


def resume(
    stored: RunConfig,
    run: str,
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: Overrides = None,
    same_data: SameData | None = None,
) -> RunConfig:
    """The stored configuration of the run ``run`` with the command line's settings (see the
    module docstring); ``same_data`` decides whether other data settings name the same data."""
    file_data = load_toml(config_file) if config_file else {}
    given = preset or file_data.pop("preset", None)
    if given and given != stored.preset:
        raise ConfigError(
            f"{run} was trained with the preset {stored.preset or '(none)'!r}, not {given!r}; drop --preset "
            "to continue it, or start a new run with another --out."
        )
    settings = Settings.of(stored)
    if file_data:
        settings.apply(file_data, str(config_file))
    for key, value in override_items(overrides):
        settings.set(key, value)
    cfg = validate(settings.build())
    for section in FROZEN_ON_RESUME:
        old, new = dataclasses.asdict(getattr(stored, section)), dataclasses.asdict(getattr(cfg, section))
        changed = [k for k in old if old[k] != new[k]]
        if not changed:
            continue
        if section == "data" and same_data is not None and set(changed) <= {"path", "corpus", "files"}:
            kept = same_data(stored.data, cfg.data)
            if kept is not None:
                cfg = dataclasses.replace(cfg, data=kept)
                continue
        key = changed[0]
        why = (
            "the text differs from the one it was trained on"
            if section == "data" and key in ("path", "corpus", "files")
            else "its checkpoint was trained with the stored value"
        )
        raise ConfigError(
            f"--resume cannot change {section}.{key}: {run} was trained with {old[key]!r} and this command gives "
            f"{new[key]!r} ({why}); drop the option to continue the run, or start a new run with another --out."
        )
    return cfg
