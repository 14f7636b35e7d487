"""``glassgpt gradcheck DIR`` on a makemore MLP run: becoming a backprop ninja, checked.

``check_mlp_run`` takes the run's weights (the MLP with BatchNorm) and a batch of its training
examples and walks the lecture's backward pass one intermediate at a time — logprobs, probs,
counts_sum_inv, … , emb, C — each gradient written by hand (``makemore.backprop``) against
PyTorch autograd from the very same activations (``makemore.backprop_check.compare_steps``):
bit-for-bit equal?, within its bound?, the largest difference, and that difference in rounding
errors of the terms combined to make the gradient (the bound counts the roundings on the way
from the loss).  Then the two one-formula shortcuts (the cross-entropy and the BatchNorm
backward) against the chain and against autograd.

The run's MLP has no bias before its BatchNorm (it would be cancelled); the check adds a zero
one, which changes nothing in the forward pass, so the lecture's b1 gradient is checked too
(mathematically 0: only roundoff is left).  float64 (the default) proves the formulas;
float32 shows the precision training runs at.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassgpt import rundir
from glassgpt.config import check_seed
from glassgpt.errors import ConfigError
from glassgpt.makemore.backprop import LECTURE_NAMES
from glassgpt.makemore.backprop_check import StepRow, compare_formulas, compare_steps
from glassgpt.makemore.word_source import run_words
from glassgpt.models.from_run import load_config, load_run

DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass
class HandCheck:
    rows: list[StepRow]  # every intermediate, in the lecture's order
    formulas: list[StepRow]  # the one-formula backward passes
    source: str  # the run directory
    dtype: str
    batch: int  # training examples in the batch

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows + self.formulas)

    @property
    def failures(self) -> list[StepRow]:
        return [r for r in self.rows + self.formulas if not r.ok]


def is_ladder_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a makemore ladder model (not the GPT); False when it holds no
    readable configuration (the GPT check then says what is wrong)."""
    if not (Path(run_dir) / rundir.CONFIG).is_file():
        return False
    return load_config(run_dir).model.arch != "gpt"


def check_mlp_run(run_dir: str | Path, dtype: str = "float64", batch_size: int = 32, seed: int = 0) -> HandCheck:
    """The step-by-step and one-formula gradient checks of an MLP + BatchNorm run (see the module docstring)."""
    check_seed(seed)
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype must be float32 or float64, got {dtype!r}.")
    if batch_size < 2:
        raise ConfigError(f"the BatchNorm backward needs a batch of at least 2 examples, got {batch_size}.")
    loaded = load_run(run_dir, "cpu")
    m = loaded.config.model
    if m.arch != "mlp":
        raise ConfigError(
            f"gradcheck by hand walks the makemore MLP; {loaded.run_dir} holds a {m.arch} "
            "(train one with `glassgpt train --model mlp --set model.batchnorm=true`)."
        )
    params = {name: t.double().numpy().astype(DTYPES[dtype]) for name, t in loaded.model.weights().items()}
    params.setdefault(LECTURE_NAMES["b1"], np.zeros(m.n_hidden, dtype=DTYPES[dtype]))
    X, Y = run_words(loaded.run_dir, loaded.config, loaded.tokenizer).examples("train", m.block_size)
    pick = np.random.default_rng(seed).choice(len(X), size=min(batch_size, len(X)), replace=False)
    X, Y = X[np.sort(pick)], Y[np.sort(pick)]
    rows = compare_steps(params, X, Y)
    return HandCheck(rows, compare_formulas(params, X, Y), str(loaded.run_dir), dtype, len(X))


def table_lines(check: HandCheck) -> list[str]:
    """The check as a plain table of at most 80 columns (a long run path wraps)."""
    eps = np.finfo(DTYPES[check.dtype]).eps
    lines = textwrap.wrap(
        f"the backward pass written by hand vs torch autograd, {check.dtype}, on "
        f"{check.batch} training examples of {check.source}",
        80,
    )
    lines += textwrap.wrap(
        f"in ε·size: the worst entry's |Δ| in units of ε = {eps:.1e} times the size of the terms "
        "combined to make it (cancelling terms round like any others); bound: the roundings both "
        "sides can carry on the way from the loss.",
        80,
    )
    head = f"{'gradient of':<26} {'shape':<10} {'exact':<5} {'close':<5} {'max |Δ|':>9} {'in ε·size':>9} {'bound':>6}"
    lines += [head, "-" * len(head)]

    def row(r: StepRow, name: str) -> str:
        shape = "×".join(map(str, r.shape)) or "scalar"
        return (
            f"{name:<26} {shape:<10} {'yes' if r.exact else 'no':<5} {'ok' if r.close else 'FAIL':<5} "
            f"{r.max_diff:>9.2e} {r.error:>9.2f} {r.bound:>6}"
        )

    lines += [row(r, r.name) for r in check.rows]
    lines += ["", "one formula instead of the chain:"]
    for r in check.formulas:
        what, _, against = r.name.partition(": one formula vs ")
        label = {"logits": "cross-entropy", "hprebn": "BatchNorm"}.get(what, what)
        lines.append(row(r, f"{label} vs {against}"))
    return lines
