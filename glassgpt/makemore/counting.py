"""The counting engine: the bigram of the makemore ladder, where training is counting.

The counting bigram's best parameters are written down, not searched for: the counts of
(previous, next) character pairs of the training split, smoothed.  So its "training step"
adds the batch's pairs to the table and that is all — no gradient, no optimizer, no learning
rate.  The word-list data gives this model the whole training split as its one batch
(``training.words``) and ``train.max_steps`` must be 1 (``ladder_config.validate_ladder``):
one step counts every training pair exactly once, in micro-batches of ``train.batch_size``.

The step reports, as its loss, the mean negative log-likelihood of the pairs it counted
under the table it has just built (the training loss of the fitted model), and 0 as its
gradient norm.  Everything else is the ordinary machinery: the run directory, the metrics,
the checkpoint (the counts are the model's only tensor, an int64 buffer), evaluation,
sampling and the report.
"""

from __future__ import annotations

import numpy as np
import torch

from glassgpt.config import RunConfig
from glassgpt.models.factory import build
from glassgpt.models.nll import summed_nll
from glassgpt.training.engines.base import StepResult, TorchRNG


class CountingEngine:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.rng = TorchRNG(cfg.train.seed, torch.device("cpu"))  # kept so checkpoints look like every other
        with self.rng.active():
            self.model = build(cfg.model)

    def train_step(self, micro_batches, lr: float, capture: bool = False) -> StepResult:
        """Add every pair of the micro-batches to the counts; the loss is their mean NLL afterwards."""
        xs = [torch.from_numpy(np.ascontiguousarray(x)) for x, *_ in micro_batches]
        ys = [torch.from_numpy(np.ascontiguousarray(y)) for _, y, *_ in micro_batches]
        for x, y in zip(xs, ys):
            self.model.count(x, y)
        self.model.eval()
        with torch.no_grad():
            total = sum(float(summed_nll(self.model(x)[0], y)) for x, y in zip(xs, ys))
        return StepResult(total / max(sum(len(y) for y in ys), 1), 0.0, None)

    @torch.no_grad()
    def eval_sums(self, x: np.ndarray, y: np.ndarray, segments: np.ndarray | None = None) -> tuple[float, int]:
        self.model.eval()
        logits, _ = self.model(torch.from_numpy(np.ascontiguousarray(x)))
        return float(summed_nll(logits, torch.from_numpy(np.ascontiguousarray(y)))), int((np.asarray(y) != -1).sum())

    def sampling_model(self) -> torch.nn.Module:
        return self.model

    def trained_names(self) -> list[str]:
        return []  # nothing is trained by gradients

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {"model": self.model.weights(), "optimizer": {}, "rng": self.rng.state()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        self.model.load_weights(state["model"])
        self.rng.load_state(state.get("rng", {}))
