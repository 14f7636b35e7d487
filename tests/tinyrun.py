"""Tiny configurations and text shared by the tests (importable as ``tinyrun``: pytest puts
the tests folder on sys.path when it loads tests/conftest.py)."""

from __future__ import annotations

from glassgpt.config import RunConfig

TINY_TEXT = (
    "the quick brown fox jumps over the lazy dog.\n"
    "pack my box with five dozen liquor jugs!\n"
    "how vexingly quick daft zebras jump.\n"
) * 40


def tiny_config(**train) -> RunConfig:
    """A two-layer char model that trains in a second or two on TINY_TEXT."""
    cfg = RunConfig()
    cfg.preset = "test"
    m, t = cfg.model, cfg.train
    m.n_layer, m.n_head, m.n_embd, m.block_size = 2, 2, 32, 16
    t.batch_size, t.max_steps, t.lr, t.warmup_steps = 8, 40, 3e-3, 5
    t.eval_every, t.eval_batches, t.log_every, t.save_every = 20, 2, 5, 20
    cfg.data.corpus, cfg.data.tokenizer, cfg.data.val_fraction = "", "char", 0.1
    for k, v in train.items():
        setattr(t, k, v)
    return cfg
