"""``glassgpt gradcheck``: the glass engine's gradients against autograd, for a run or a preset.

``run_gradcheck`` loads the model of a run directory (or initialises a preset), takes one
batch and hands it to ``glassgpt.glass.gradcheck.check_model``, which compares the logits,
the loss and every parameter's gradient, each with its own tolerance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from glassgpt import rundir
from glassgpt.config import check_seed, resolve
from glassgpt.config.validate import glass_missing
from glassgpt.data import load_corpus
from glassgpt.data.tokens import open_split
from glassgpt.errors import ConfigError, GlassError
from glassgpt.glass import parameter_shapes
from glassgpt.glass.gradcheck import check_model
from glassgpt.models.footprint import activation_floats, parameter_count, require_fits
from glassgpt.models.from_run import load_config, load_weights
from glassgpt.tokenizers.spec import build_tokenizer

# ---------------------------------------------------------------------------------------
# The whole check, as ``glassgpt gradcheck`` runs it
# ---------------------------------------------------------------------------------------

#: vocabulary used for ``--preset`` when the preset's corpus is not a small built-in one
#: (the character set of Tiny Shakespeare)
DEFAULT_CHAR_VOCAB = 65


@dataclass
class GradcheckResult:
    rows: list
    source: str  # what was checked, in words
    dtype: str
    shape: tuple  # (batch, seq_len)
    n_params: int

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def failures(self) -> list:
        return [r for r in self.rows if not r.ok]


def preset_vocab_size(cfg) -> tuple[int, str]:
    """A vocabulary size for a preset checked without a run: the tokenizer's own size where it
    is fixed or cheap to build (byte: 256; the small nursery/poem corpora), else the 65
    characters of Tiny Shakespeare (or data.vocab_size for BPE)."""
    d = cfg.data
    if d.tokenizer == "byte":
        return 256, "byte vocabulary"
    if d.tokenizer == "bpe":
        return (d.vocab_size or 50257), "BPE vocabulary size"
    if d.corpus in ("nursery", "poem") and not d.path and d.tokenizer in ("char", "word"):
        size = build_tokenizer(d.tokenizer, load_corpus(d.corpus)).vocab_size
        return size, f"{d.tokenizer} vocabulary of the {d.corpus} corpus"
    return DEFAULT_CHAR_VOCAB, "65 characters, as Tiny Shakespeare"


def run_gradcheck(
    run_dir=None,
    preset: str | None = None,
    dtype: str = "float64",
    batch_size: int = 2,
    seq_len: int | None = None,
    seed: int = 0,
    vocab_size: int | None = None,
) -> GradcheckResult:
    """Load the model of ``run_dir`` (or initialise ``preset``, default "baby"), take one batch
    (from the run's training tokens when there are enough, else random ids) and compare the
    glass engine with PyTorch autograd: ``check_model``."""
    if run_dir is not None and preset:
        raise ConfigError("give either a run directory or --preset, not both.")
    if run_dir is not None and vocab_size is not None:
        raise ConfigError("--vocab-size only applies with --preset; a run directory's model has its own vocabulary.")
    check_seed(seed)
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"--dtype must be float32 or float64, not {dtype!r}.")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}.")
    tokens = None
    if run_dir is not None:
        path = rundir.require_run(run_dir)
        cfg = load_config(path).model
        weights = load_weights(path)
        tokens = _run_tokens(Path(path))
        source = f"run {path}"
    else:
        run_cfg = resolve(preset or "baby")
        if vocab_size is not None and vocab_size < 1:
            raise ConfigError(f"--vocab-size must be at least 1, got {vocab_size}.")
        size, how = (vocab_size, "--vocab-size") if vocab_size else preset_vocab_size(run_cfg)
        cfg = dataclasses.replace(run_cfg.model, vocab_size=size)
        weights = None
        source = f"preset {run_cfg.preset} (fresh weights, seed {seed}; vocabulary {cfg.vocab_size}: {how})"
    if cfg.ensemble > 1:
        raise ConfigError(
            f"the {source} is an ensemble of {cfg.ensemble} GPTs; the glass engine's gradients are those of one GPT."
        )
    missing = glass_missing(cfg)
    if missing:
        raise ConfigError(
            f"the {source} uses {' and '.join(missing)}, which the glass engine has no hand-written gradients for; "
            "gradcheck checks the GPT-2 block and its RMSNorm, ReLU², soft-capping and bias-free options."
        )
    T = seq_len if seq_len is not None else min(cfg.block_size, 64)
    if not 1 <= T <= cfg.block_size:
        raise ConfigError(f"--seq-len must be between 1 and the model's context {cfg.block_size}, got {T}.")
    _check_memory(cfg, batch_size, T, dtype)
    rng = np.random.default_rng(seed)
    if tokens is not None and len(tokens) > T + 1:
        starts = rng.integers(0, len(tokens) - T, size=batch_size)
        window = np.asarray(tokens)[starts[:, None] + np.arange(T + 1)].astype(np.int64)
        x, y = window[:, :-1], window[:, 1:]
    else:
        x = rng.integers(0, cfg.vocab_size, (batch_size, T))
        y = rng.integers(0, cfg.vocab_size, (batch_size, T))
    rows = check_model(cfg, weights, x, y, dtype, seed)
    n_params = int(sum(np.prod(s) for s in parameter_shapes(cfg).values()))
    return GradcheckResult(rows, source, dtype, (batch_size, T), n_params)


def _check_memory(cfg, batch_size: int, seq_len: int, dtype: str) -> None:
    """Both engines hold their weights, gradients and activations (the glass engine its
    attention maps too) in ``dtype``: refuse a batch that cannot fit before building either."""
    size = 8 if dtype == "float64" else 4
    need = size * (2 * 3 * parameter_count(cfg) + 2 * activation_floats(cfg, batch_size, seq_len, attention_maps=True))
    require_fits(
        need,
        torch.device("cpu"),
        f"checking a batch of {batch_size:,}×{seq_len:,} tokens in {dtype}",
        "use a smaller --batch-size, --seq-len, --vocab-size or preset",
    )


def _run_tokens(path):
    """The run's training tokens, or None when its data cache is missing or unreadable."""
    try:
        return open_split(path / rundir.DATA_DIR, "train")
    except (GlassError, OSError, KeyError, ValueError):
        return None
