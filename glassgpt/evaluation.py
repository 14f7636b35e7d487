"""Honest evaluation: mean loss over every token of a split, perplexity, and bits per byte.

Bits per byte divides the total loss (converted to bits) by the UTF-8 bytes of the
predicted tokens, so a char model and a BPE model evaluated on the same text compare
fairly even though they predict different numbers of tokens.

A result names its loss after what was evaluated: ``val_loss`` for the validation split
(or other text given with ``--data``), ``train_loss`` for a run without a validation
split (the ``nursery`` and ``poem`` presets), and always ``loss``.  Runs written before
this naming stored a training-split loss as ``val_loss`` with ``"split": "train"``;
``final_loss`` reads both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from glassgpt import rundir
from glassgpt.data import read_text
from glassgpt.data.loader import all_windows
from glassgpt.data.shards import open_prepared
from glassgpt.data.tokens import open_split
from glassgpt.errors import DataError
from glassgpt.models.footprint import inference_bytes, require_fits
from glassgpt.progress import task
from glassgpt.runs import load, load_config
from glassgpt.threads import thread_scope


def perplexity(mean_loss: float) -> float:
    return math.exp(mean_loss) if mean_loss < 700 else float("inf")


def token_byte_lengths(tokenizer) -> np.ndarray:
    """UTF-8 byte length of every id of the tokenizer."""
    return np.array([len(tokenizer.token_bytes(i)) for i in range(tokenizer.vocab_size)], dtype=np.int64)


def window_batches(n_tokens: int, seq_len: int, batch_size: int) -> tuple[int, int]:
    """(windows, batches) that ``all_windows`` yields for a split of ``n_tokens`` tokens."""
    n = max(0, n_tokens - 1)
    full, rest = n // seq_len, n % seq_len
    return full + (1 if rest else 0), -(-full // batch_size) + (1 if rest else 0)


def evaluate_tokens(
    nll_sum: Callable[[np.ndarray, np.ndarray], tuple[float, int]],
    tokens: np.ndarray,
    seq_len: int,
    batch_size: int,
    byte_lengths: np.ndarray,
    progress: bool = False,
    label: str = "evaluating",
    reduce: Callable[[float, int], tuple[float, int]] | None = None,
) -> dict:
    """Evaluate every target of ``tokens`` once, in consecutive windows of ``seq_len``;
    returns ``{"loss", "perplexity", "bits_per_byte", "tokens", "bytes"}`` (see ``named``).

    ``nll_sum(x, y)`` returns the summed loss in nats of the batch and its token count.
    ``progress`` shows a bar labelled ``label``.  The split is read batch by batch (a
    memory map or a prepared corpus's shards are never loaded whole).  ``reduce(total,
    count)``: the sums of all processes, when each ``nll_sum`` call ran on one of them."""
    total, count, n_bytes = 0.0, 0, 0
    with task(label, window_batches(len(tokens), seq_len, batch_size)[1], enabled=progress) as bar:
        for x, y in all_windows(tokens, seq_len, batch_size):
            s, n = nll_sum(x, y)
            total, count = total + s, count + n
            n_bytes += int(byte_lengths[y].sum())
            bar.advance()
    if reduce is not None:
        total, count = reduce(total, count)
    mean = total / max(count, 1)
    return {
        "loss": mean,
        "perplexity": perplexity(mean),
        "bits_per_byte": total / math.log(2) / max(n_bytes, 1),
        "tokens": count,
        "bytes": n_bytes,
    }


def evaluate_examples(
    nll_sum: Callable[[np.ndarray, np.ndarray], tuple[float, int]],
    X: np.ndarray,
    Y: np.ndarray,
    rows: int,
    byte_lengths: np.ndarray,
    max_batches: int | None = None,
    progress: bool = False,
    label: str = "evaluating",
) -> dict:
    """Evaluate fixed examples — rows of X with their targets Y (a word list's windows or
    sequences; targets of -1 are skipped) — in consecutive batches of ``rows``, the first
    ``max_batches`` of them (None: all).  Returns what ``evaluate_tokens`` returns."""
    starts = range(0, len(X), max(1, rows))[:max_batches]
    total, count, n_bytes = 0.0, 0, 0
    with task(label, len(starts), enabled=progress) as bar:
        for i in starts:
            y = Y[i : i + rows]
            s, n = nll_sum(X[i : i + rows], y)
            total, count = total + s, count + n
            n_bytes += int(byte_lengths[y[y >= 0]].sum())
            bar.advance()
    mean = total / max(count, 1)
    return {
        "loss": mean,
        "perplexity": perplexity(mean),
        "bits_per_byte": total / math.log(2) / max(n_bytes, 1),
        "tokens": count,
        "bytes": n_bytes,
    }


def named(split: str, result: dict, held_out: bool = False) -> dict:
    """``result`` of ``evaluate_tokens`` with the split it measured and its loss named after
    it: ``train_loss`` for the training split, ``val_loss`` for the validation split or
    ``held_out`` text."""
    name = "val_loss" if held_out or split != "train" else "train_loss"
    return {"split": split, name: result["loss"], **result}


def final_loss(final: dict) -> tuple[str, float | None]:
    """(name, value) of an evaluation's loss, e.g. ("val", 1.87), for this version's results
    and for older runs that stored every loss as ``val_loss``."""
    split = str(final.get("split", "val"))
    value = final.get("loss", final.get(f"{split}_loss", final.get("val_loss")))
    return split, value if isinstance(value, (int, float)) else None


def summed_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The summed cross-entropy (nats) of logits (..., V) against targets (...), in float32;
    targets of -1 are skipped."""
    return F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum", ignore_index=-1
    )


def model_nll_sum(model) -> Callable[[np.ndarray, np.ndarray], tuple[float, int]]:
    """``nll_sum`` for a torch model (eval mode, no gradients): the GPT, or a ladder model (x windows, y targets)."""
    device = next(iter(model.state_dict().values())).device  # the counting bigram has buffers only

    @torch.no_grad()
    def nll_sum(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        model.eval()
        logits, _ = model(torch.from_numpy(x).to(device))
        return float(summed_nll(logits, torch.from_numpy(y).to(device))), int((y != -1).sum())

    return nll_sum


def run_tokens(run_dir: Path, cfg) -> tuple[np.ndarray, str]:
    """The split a run is evaluated on: validation (training when it has none), from its token
    cache, or from the prepared corpus it streamed (``data.fingerprint`` set)."""
    if cfg.data.fingerprint:
        corpus = open_prepared(cfg.data.path)
        split = "val" if len(corpus.split("val")) >= 2 else "train"
        return corpus.split(split), split
    data_dir = run_dir / rundir.DATA_DIR
    if not (data_dir / "meta.json").is_file():
        raise DataError(
            f"{run_dir} has no token data of its own (it was imported or its data cache is gone); "
            "evaluate it on a text with --data PATH."
        )
    tokens, split = open_split(data_dir, "val"), "val"
    if len(tokens) < 2:
        tokens, split = open_split(data_dir, "train"), "train"
    return tokens, split


def evaluate_run(
    run_dir,
    data: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    threads: int = 0,
    progress: bool = False,
) -> dict:
    """Evaluate a run on its validation split (or training split when it has none), or on
    the UTF-8 text at ``data`` encoded with the run's tokenizer; ``threads`` CPU threads
    (0: torch's default); ``progress`` shows a bar."""
    if batch_size < 1:
        raise DataError(f"the evaluation batch size must be at least 1, got {batch_size}.")
    with thread_scope(threads):
        return _evaluate_run(run_dir, data, device, batch_size, progress)


def _evaluate_run(run_dir, data: str | None, device: str, batch_size: int, progress: bool) -> dict:
    model, tokenizer = load(run_dir, device)
    cfg = load_config(run_dir)
    seq_len = cfg.train.seq_len or cfg.model.block_size
    if data:
        tokens, split = np.asarray(tokenizer.encode(read_text(data)), dtype=np.int64), str(data)
        if len(tokens) < 2:
            raise DataError(f"{data} has fewer than two tokens; there is nothing to predict.")
    else:
        tokens, split = run_tokens(Path(run_dir), cfg)
    windows = window_batches(len(tokens), seq_len, batch_size)[0]
    need = inference_bytes(cfg.model, min(batch_size, max(windows, 1)), seq_len)
    require_fits(
        need,
        next(model.parameters()).device,
        f"evaluating batches of {batch_size:,} windows",
        "use a smaller --batch-size",
    )
    result = evaluate_tokens(
        model_nll_sum(model),
        tokens,
        seq_len,
        batch_size,
        token_byte_lengths(tokenizer),
        progress=progress,
        label=f"evaluating the {split} split" if not data else "evaluating",
    )
    return named(split, result, held_out=bool(data))
