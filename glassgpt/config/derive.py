"""Derive: the values a run computes from its settings and its data, all in one place.

``derive(cfg, facts, processes, ...)`` returns a new configuration; nothing else in glassgpt
fills a setting in.  What it computes:

- ``model.vocab_size``: the tokenizer's vocabulary size (``facts.vocab_size``);
- ``data.kind``, ``data.tokenizer``, ``data.fingerprint``: what the data turned out to be (a
  folder holding a prepared corpus is a ``corpus``, its tokenizer the corpus's own spec, its
  fingerprint that of its ``index.json``);
- ``train.grad_accum`` from ``train.tokens_per_step`` for this many processes;
- ``train.threads``: the training threads, when not given: the usable cores (``cores``),
  recorded so that a resume (or the same command on a busy machine) computes the same bytes;
  a run that follows the load (``train.adaptive_threads``) leaves it 0;
- ``train.decay_steps`` on a resume that lengthens a run planned to decay until its
  ``max_steps``: the original ``max_steps``, so no step already planned changes its rate
  (set ``train.decay_steps`` to re-plan the decay);
- ``kind``: what the run is (``glassgpt.rundir.kinds``);
- ``resumes``: on a resume, one more record (the step, the settings it changed, the time).
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass

from glassgpt.config.schema import SECTIONS, RunConfig
from glassgpt.errors import ConfigError
from glassgpt.rundir.kinds import kind_of


@dataclass(frozen=True)
class DataFacts:
    """What opening the data found out: the vocabulary size, and what the data is when it
    says so itself (a prepared corpus: ``kind="corpus"``, its tokenizer spec and fingerprint)."""

    vocab_size: int
    kind: str | None = None
    tokenizer: str | None = None
    fingerprint: str | None = None


def derive(
    cfg: RunConfig,
    facts: DataFacts,
    processes: int = 1,
    stored: RunConfig | None = None,
    resumed_at: int | None = None,
    cores: int = 0,
) -> RunConfig:
    """``cfg`` with every derived value filled in (see the module docstring).  ``stored``: the
    configuration a resumed run was saved with; ``resumed_at``: the step it resumes at;
    ``cores``: the training threads this machine offers one process (0: leave the count open)."""
    data = cfg.data
    if facts.kind is not None:
        data = dataclasses.replace(data, kind=facts.kind)
    if facts.tokenizer is not None:
        data = dataclasses.replace(data, tokenizer=facts.tokenizer)
    if facts.fingerprint is not None:
        data = dataclasses.replace(data, fingerprint=facts.fingerprint)
    if data.kind == "corpus":
        data = dataclasses.replace(data, corpus="")
    out = dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, vocab_size=facts.vocab_size),
        data=data,
        train=dataclasses.replace(
            cfg.train,
            grad_accum=grad_accum(cfg, processes),
            decay_steps=decay_steps(cfg, stored),
            threads=cfg.train.threads or (0 if cfg.train.adaptive_threads else cores),
        ),
    )
    out = dataclasses.replace(out, kind=kind_of({**out.to_dict(), "kind": ""}) if not cfg.kind else cfg.kind)
    if stored is not None and resumed_at is not None:
        record = {
            "step": resumed_at,
            "changed": changed_settings(stored, out),
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        out = dataclasses.replace(out, resumes=(*stored.resumes, record))
    return out


def grad_accum(cfg: RunConfig, processes: int) -> int:
    """``train.grad_accum``, or from ``train.tokens_per_step`` when it is set."""
    t = cfg.train
    if not t.tokens_per_step:
        return t.grad_accum
    per_micro = t.batch_size * cfg.seq_len * processes
    if t.tokens_per_step % per_micro:
        raise ConfigError(
            f"train.tokens_per_step ({t.tokens_per_step:,}) is not a multiple of batch_size × seq_len × processes "
            f"({t.batch_size} × {cfg.seq_len} × {processes} = {per_micro:,}); choose a batch size or number of "
            "processes that divides it."
        )
    return t.tokens_per_step // per_micro


def decay_steps(cfg: RunConfig, stored: RunConfig | None) -> int:
    """``train.decay_steps``: kept, except that a resume lengthening a run planned to decay
    until its end keeps the end it was planned with."""
    old, new = (stored.train if stored is not None else None), cfg.train
    if old is not None and not old.decay_steps and not new.decay_steps and new.max_steps != old.max_steps:
        return old.max_steps
    return new.decay_steps


def changed_settings(old: RunConfig, new: RunConfig) -> dict[str, list[object]]:
    """``{"section.key": [old, new]}`` for every setting that differs."""
    out: dict[str, list[object]] = {}
    for section in SECTIONS:
        a, b = dataclasses.asdict(getattr(old, section)), dataclasses.asdict(getattr(new, section))
        out.update({f"{section}.{k}": [a[k], b[k]] for k in a if a[k] != b[k]})
    return out
