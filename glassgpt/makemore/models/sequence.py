"""A rung of the ladder read as a language model over whole sequences.

A ladder model predicts one character from a fixed window of the ``block_size`` before it.
``Windowed`` slides that window along a sequence, so position ``t`` predicts token ``t + 1``
from the tokens up to and including ``t``, the start padded with ``.`` (id 0): exactly the
context the model saw in training, where every word starts after ``.``.  It answers like
the GPT (``(logits (B, T, V), None)``), so sampling, streaming, explaining and the
playground work on every rung.  It keeps no cache: each step reads one window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from glassgpt.makemore.models.char_model import CharModel

#: the id of ``.``, which starts and ends every word
START = 0


class Windowed(nn.Module):
    def __init__(self, model: CharModel, config):
        super().__init__()
        self.inner, self.config = model, config

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, *, last_only: bool = False, **_):
        """idx (B, T) -> (logits (B, T, V), None); ``last_only``: only the last position's."""
        k = self.inner.block_size
        windows = F.pad(idx, (k - 1, 0), value=START).unfold(1, k, 1)  # (B, T, k): window t ends at token t
        if last_only:
            windows = windows[:, -1:]
        B, T = windows.shape[:2]
        logits = self.inner.logits(windows.reshape(B * T, k)).view(B, T, -1)
        return logits, None
