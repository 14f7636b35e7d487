"""Tiny configurations and text shared by the tests (importable as ``support.tinyrun``: pytest
puts the tests folder on sys.path when it loads tests/conftest.py)."""

from __future__ import annotations

from glassgpt.config import RunConfig

TINY_TEXT = (
    "the quick brown fox jumps over the lazy dog.\n"
    "pack my box with five dozen liquor jugs!\n"
    "how vexingly quick daft zebras jump.\n"
) * 40


def tiny_config(settings: dict | None = None, **train) -> RunConfig:
    """A two-layer char model that trains in a second or two on TINY_TEXT; ``train`` sets
    ``train.*`` keys, ``settings`` any ``{"section.key": value}``."""
    values = {
        "preset": "test",
        "model.n_layer": 2,
        "model.n_head": 2,
        "model.n_embd": 32,
        "model.block_size": 16,
        "train.batch_size": 8,
        "train.max_steps": 40,
        "train.lr": 3e-3,
        "train.warmup_steps": 5,
        "train.eval_every": 20,
        "train.eval_batches": 2,
        "train.log_every": 5,
        "train.save_every": 20,
        "data.corpus": "",
        "data.tokenizer": "char",
        "data.val_fraction": 0.1,
    }
    values.update({f"train.{k}": v for k, v in train.items()})
    values.update(settings or {})
    return RunConfig().updated(values)
