"""Honest evaluation: mean loss over every token of a split, perplexity, and bits per byte.

Bits per byte divides the total loss (converted to bits) by the UTF-8 bytes of the
predicted tokens, so a char model and a BPE model evaluated on the same text compare
fairly even though they predict different numbers of tokens.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import rundir
from .data import read_text
from .data.loader import all_windows
from .data.tokens import open_split
from .errors import DataError
from .runs import load, load_config


def perplexity(mean_loss: float) -> float:
    return math.exp(mean_loss) if mean_loss < 700 else float("inf")


def token_byte_lengths(tokenizer) -> np.ndarray:
    """UTF-8 byte length of every id of the tokenizer."""
    return np.array([len(tokenizer.token_bytes(i)) for i in range(tokenizer.vocab_size)], dtype=np.int64)


def evaluate_tokens(nll_sum: Callable[[np.ndarray, np.ndarray], tuple[float, int]], tokens: np.ndarray,
                    seq_len: int, batch_size: int, byte_lengths: np.ndarray) -> dict:
    """Evaluate every target of ``tokens`` once, in consecutive windows of ``seq_len``.

    ``nll_sum(x, y)`` returns the summed loss in nats of the batch and its token count."""
    total, count = 0.0, 0
    for x, y in all_windows(tokens, seq_len, batch_size):
        s, n = nll_sum(x, y)
        total, count = total + s, count + n
    n_bytes = int(byte_lengths[np.asarray(tokens[1:], dtype=np.int64)].sum())
    mean = total / max(count, 1)
    return {
        "val_loss": mean,
        "perplexity": perplexity(mean),
        "bits_per_byte": total / math.log(2) / max(n_bytes, 1),
        "tokens": count,
        "bytes": n_bytes,
    }


def summed_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The summed cross-entropy (nats) of logits (..., V) against targets (...), in float32;
    targets of -1 are skipped."""
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1),
                           reduction="sum", ignore_index=-1)


def model_nll_sum(model) -> Callable[[np.ndarray, np.ndarray], tuple[float, int]]:
    """``nll_sum`` for a torch GPT (eval mode, no gradients)."""
    device = next(model.parameters()).device

    @torch.no_grad()
    def nll_sum(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        model.eval()
        logits, _ = model(torch.from_numpy(x).to(device))
        return float(summed_nll(logits, torch.from_numpy(y).to(device))), int((y != -1).sum())

    return nll_sum


def evaluate_run(run_dir, data: str | None = None, device: str = "cpu", batch_size: int = 32) -> dict:
    """Evaluate a run on its validation split (or training split when it has none), or on
    the UTF-8 text at ``data`` encoded with the run's tokenizer."""
    model, tokenizer = load(run_dir, device)
    cfg = load_config(run_dir)
    seq_len = cfg.train.seq_len or cfg.model.block_size
    if data:
        tokens, split = np.asarray(tokenizer.encode(read_text(data)), dtype=np.int64), str(data)
        if len(tokens) < 2:
            raise DataError(f"{data} has fewer than two tokens; there is nothing to predict.")
    else:
        data_dir = Path(run_dir) / rundir.DATA_DIR
        tokens, split = open_split(data_dir, "val"), "val"
        if len(tokens) < 2:
            tokens, split = open_split(data_dir, "train"), "train"
    result = evaluate_tokens(model_nll_sum(model), tokens, seq_len, batch_size, token_byte_lengths(tokenizer))
    return {"split": split, **result}
