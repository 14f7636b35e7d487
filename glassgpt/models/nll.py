"""The summed negative log-likelihood every evaluation adds up: of logits against targets,
and of a whole torch model over a batch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from glassgpt.models.segments import document_positions


def summed_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The summed cross-entropy (nats) of logits (..., V) against targets (...), in float32;
    targets of -1 are skipped."""
    return F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum", ignore_index=-1
    )


def model_nll_sum(model: torch.nn.Module) -> Callable[..., tuple[float, int]]:
    """``sums(x, y[, segments]) -> (summed loss in nats, counted targets)`` for a torch model in
    eval mode, without gradients: the GPT (segments: per-token document ids), or a ladder model
    (x windows, y targets)."""
    device = next(iter(model.state_dict().values())).device  # the counting bigram has buffers only

    @torch.no_grad()
    def sums(x: np.ndarray, y: np.ndarray, segments: np.ndarray | None = None) -> tuple[float, int]:
        model.eval()
        inputs = torch.from_numpy(np.ascontiguousarray(x)).to(device)
        if segments is None:
            logits, _ = model(inputs)
        else:
            positions = torch.from_numpy(document_positions(segments)).to(device)
            logits, _ = model(
                inputs, segments=torch.from_numpy(np.ascontiguousarray(segments)).to(device), positions=positions
            )
        return float(summed_nll(logits, torch.from_numpy(np.ascontiguousarray(y)).to(device))), int((y != -1).sum())

    return sums
