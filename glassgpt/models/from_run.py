"""Open a finished (or checkpointed) run directory: its configuration, model, tokenizer and
trained context (``load_run``), or just the model and tokenizer (``load``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from glassgpt import rundir
from glassgpt.config import RunConfig
from glassgpt.device import pick_device
from glassgpt.errors import ConfigError, FileError, GlassError, RunDirError
from glassgpt.fileio import load_tensors
from glassgpt.makemore.models.char_model import CharModel
from glassgpt.makemore.models.sequence import Windowed
from glassgpt.models import GPT
from glassgpt.models.factory import build
from glassgpt.rundir.card import run_card
from glassgpt.rundir.layout import STATE_DIR, STATE_MODEL
from glassgpt.tokenizers import Tokenizer
from glassgpt.tokenizers import load as load_tokenizer


def load_config(run_dir: str | Path) -> RunConfig:
    try:
        return RunConfig.from_dict(rundir.read_config_dict(Path(run_dir)))
    except ConfigError as exc:
        raise RunDirError(f"{Path(run_dir) / rundir.CONFIG} is not a valid run configuration ({exc})") from None


def _restore_hint(path: Path) -> str:
    """What to do when the top-level weights file is damaged but the checkpoint's copy is not."""
    copy = path / STATE_DIR / STATE_MODEL
    if rundir.weights_path(path) != path / rundir.MODEL or not copy.is_file():
        return ""
    return f" The run's checkpoint keeps its own copy of the weights: cp {copy} {path / rundir.MODEL} puts it back."


def load_weights(run_dir: str | Path) -> dict[str, torch.Tensor]:
    """The run's weights (``model.safetensors``, or the last complete checkpoint's copy)."""
    path = rundir.require_run(run_dir)
    try:
        return load_tensors(rundir.weights_path(path))
    except FileError as exc:
        raise RunDirError(str(exc) + _restore_hint(path)) from None


def load_run_tokenizer(run_dir: str | Path) -> Tokenizer:
    return load_tokenizer(run_dir)  # a run directory is a tokenizer spec: its tokenizer.json


@dataclass(frozen=True)
class LoadedRun:
    """A run opened as a model.  ``trained_context``: the length of the training windows
    (``train.seq_len``, else the block size); generation and explanations crop their
    context to it, since later position embeddings were never trained."""

    run_dir: Path
    config: RunConfig
    model: GPT | torch.nn.Module  # the GPT, or a makemore ladder model (``model.arch``)
    tokenizer: Tokenizer
    trained_context: int

    @property
    def kind(self) -> str:
        return self.config.kind

    def _repr_html_(self) -> str:
        """What a notebook shows: the run's card (``rundir.card``)."""
        return run_card(self.run_dir)

    @property
    def words(self) -> bool:
        """Whether the run was trained on a word list (one name at a time, each between two ``.``)."""
        return self.config.data.kind == "words"

    @property
    def language_model(self) -> torch.nn.Module:
        """The model as sampling, streaming and explaining read one: the GPT itself, or a
        ladder model sliding its window along the sequence (``makemore.models.sequence``)."""
        if isinstance(self.model, CharModel):
            return Windowed(self.model, self.config.model).eval()
        return self.model


def load_run(run_dir: str | Path, device: str = "cpu") -> LoadedRun:
    """Open a run directory: its configuration, the model (eval mode, on ``device``), the
    tokenizer and the trained context, with one clear error for anything inconsistent."""
    path = rundir.require_run(run_dir)
    cfg = load_config(path)
    tokenizer = load_run_tokenizer(path)
    if tokenizer.vocab_size != cfg.model.vocab_size:
        raise RunDirError(
            f"{path} is inconsistent: the tokenizer has {tokenizer.vocab_size} ids but the model "
            f"was built for {cfg.model.vocab_size}."
        )
    with torch.random.fork_rng(devices=[]):  # the weights are overwritten: their init draws must not leak
        model = build(cfg.model)
    try:
        model.load_weights(load_weights(path))
    except RunDirError:
        raise
    except GlassError as exc:
        raise RunDirError(
            f"{rundir.weights_path(path)} does not match {rundir.CONFIG}: {exc}" + _restore_hint(path)
        ) from None
    trained = min(cfg.train.seq_len or cfg.model.block_size, cfg.model.block_size)
    return LoadedRun(path, cfg, model.to(pick_device(device)).eval(), tokenizer, trained)


def load(run_dir: str | Path, device: str = "cpu") -> tuple[GPT, Tokenizer]:
    """Return ``(model, tokenizer)`` of a run directory, the model in eval mode on ``device``
    (``load_run`` also gives the configuration and the trained context)."""
    run = load_run(run_dir, device)
    return run.model, run.tokenizer
