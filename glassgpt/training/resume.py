"""What a resumed run may change: the stored configuration with the new settings, checked.

A resume continues the run's weights and data, so the model shape and the data may not
change; the same text (by its fingerprint) or the same prepared corpus (by its index's
fingerprint) under another path is still the same data.  Every resume records what it
changed (``changed_settings``) in ``config.json``'s ``resumes`` list.
"""

from __future__ import annotations

import copy
from pathlib import Path

from glassgpt import rundir
from glassgpt.config import SECTIONS, RunConfig, set_value, validate
from glassgpt.data.documents import load_training_corpus
from glassgpt.data.tokens import read_meta, text_fingerprint
from glassgpt.errors import ConfigError
from glassgpt.training import corpus as corpora

#: sections a resumed run may not change (its weights and data depend on them)
FROZEN_ON_RESUME = ("model", "data")


def resume_config(run_dir: Path, overrides: dict | None) -> RunConfig:
    """The stored configuration of ``run_dir`` with ``overrides`` applied.

    Refuses any change to the model shape or the data; the data is compared by the text's
    fingerprint, so ``./notes.txt`` and the same file by its absolute path are the same
    data.  A longer run (a larger ``train.max_steps``) keeps the learning-rate decay it was
    planned with: when ``train.decay_steps`` was 0 ("decay until max_steps"), it becomes the
    original ``max_steps``, so no step already planned changes its rate; set
    ``train.decay_steps`` to re-plan the decay."""
    stored = RunConfig.from_dict(rundir.read_config_dict(run_dir))
    cfg = RunConfig.from_dict(stored.to_dict())
    for key, value in (overrides or {}).items():
        set_value(cfg, key, value)
    validate(cfg)
    for section in FROZEN_ON_RESUME:
        old, new = getattr(stored, section).__dict__, getattr(cfg, section).__dict__
        changed = [k for k in old if old[k] != new[k]]
        if changed and section == "data" and set(changed) <= {"path", "corpus"}:
            path = new["path"]
            if stored.data.fingerprint and corpora.same_corpus(stored.data, cfg.data):
                cfg.data = copy.deepcopy(stored.data)
                cfg.data.path = path  # the same prepared corpus, moved
                continue
            if not stored.data.fingerprint and _same_text(run_dir, cfg):
                cfg.data = copy.deepcopy(stored.data)  # the same text under another name
                continue
        if changed:
            k = changed[0]
            why = (
                "the text differs from the one it was trained on"
                if section == "data" and k in ("path", "corpus")
                else "the checkpoint was trained with the old value"
            )
            raise ConfigError(
                f"--resume cannot change {section}.{k} ({old[k]!r} → {new[k]!r}): {why}. "
                "Start a new run with --out to use it."
            )
    old_t, new_t = stored.train, cfg.train
    if not old_t.decay_steps and not new_t.decay_steps and new_t.max_steps != old_t.max_steps:
        new_t.decay_steps = old_t.max_steps  # keep the decay the run was planned with
    return cfg


def _same_text(run_dir: Path, cfg: RunConfig) -> bool:
    """Whether the text ``cfg.data`` names is the text the run's data cache was made from."""
    fingerprint = read_meta(Path(run_dir) / rundir.DATA_DIR).get("text_sha256_16")
    return bool(fingerprint) and text_fingerprint(load_training_corpus(cfg.data).text) == fingerprint


def changed_settings(old: RunConfig, new: RunConfig) -> dict:
    """``{"section.key": [old, new]}`` for every setting that differs."""
    out = {}
    for section in SECTIONS:
        a, b = getattr(old, section).__dict__, getattr(new, section).__dict__
        out.update({f"{section}.{k}": [a[k], b[k]] for k in a if a[k] != b[k]})
    return out
