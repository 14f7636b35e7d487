"""Open a finished (or checkpointed) run directory: its configuration, model and tokenizer."""

from __future__ import annotations

from pathlib import Path

from .config import RunConfig
from .errors import ConfigError, GlassError, RunDirError
from .fileio import load_tensors
from .tokenizers import load as load_tokenizer
from .training import rundir


def load_config(run_dir: str | Path) -> RunConfig:
    try:
        return RunConfig.from_dict(rundir.read_config_dict(Path(run_dir)))
    except ConfigError as exc:
        raise RunDirError(f"{Path(run_dir) / rundir.CONFIG} is not a valid run configuration ({exc})") from None


def load(run_dir: str | Path, device: str = "cpu"):
    """Return ``(model, tokenizer)`` of a run directory, the model in eval mode on ``device``."""
    from .models import GPT
    from .training.engine import pick_device

    path = rundir.require_run(run_dir)
    cfg = load_config(path)
    tokenizer = load_tokenizer(path / rundir.TOKENIZER)
    if tokenizer.vocab_size != cfg.model.vocab_size:
        raise RunDirError(f"{path} is inconsistent: the tokenizer has {tokenizer.vocab_size} ids but the model "
                          f"was built for {cfg.model.vocab_size}.")
    model = GPT(cfg.model)
    try:
        model.load_weights(load_tensors(rundir.weights_path(path)))
    except RunDirError:
        raise
    except GlassError as exc:
        raise RunDirError(f"{rundir.weights_path(path)} does not match {rundir.CONFIG}: {exc}") from None
    model.trained_context = cfg.train.seq_len or cfg.model.block_size  # generation crops to it
    return model.to(pick_device(device)).eval(), tokenizer
