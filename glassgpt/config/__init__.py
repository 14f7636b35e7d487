"""A run's configuration: one pipeline, resolve -> derive -> validate, and then it is frozen.

- ``schema``    the frozen dataclasses (``RunConfig`` = model + data + train), ``Settings``
                (the mutable form while resolving: every value checked and typed as it is set)
- ``presets``   the GPT presets (the makemore ladder's join them from ``glassgpt.makemore``)
- ``resolve``   defaults < preset < TOML file < ``--set``; ``resume`` for a resumed run
- ``derive``    every value a run computes: vocabulary size, gradient accumulation, decay
                steps on resume, what the data turned out to be, the run's kind
- ``validate``  every check, one sentence each

::

    cfg = resolve("baby", overrides={"train.max_steps": 300})       # validated, frozen
    cfg = derive(cfg, DataFacts(vocab_size=65))                     # a new frozen config
    cfg.train.lr = 1.0                                              # FrozenInstanceError

``config.json`` is ``cfg.to_dict()``; ``RunConfig.from_dict`` reads it back equal.
"""

from glassgpt.config.derive import DataFacts, derive
from glassgpt.config.presets import PRESETS
from glassgpt.config.resolve import parse_override, resolve, resume
from glassgpt.config.schema import DataConfig, ModelConfig, RunConfig, Settings, TrainConfig, settings_help
from glassgpt.config.validate import check_seed, validate

__all__ = [
    "PRESETS",
    "DataConfig",
    "DataFacts",
    "ModelConfig",
    "RunConfig",
    "Settings",
    "TrainConfig",
    "check_seed",
    "derive",
    "parse_override",
    "resolve",
    "resume",
    "settings_help",
    "validate",
]
