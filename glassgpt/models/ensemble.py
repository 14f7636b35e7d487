"""Several GPTs trained side by side, predicting together: ``model.ensemble = K``.

K members of one shape (``ModelConfig``), each initialised from its own draws, are trained in
one run.  Each training batch is dealt out between them: member k reads rows k, k + K,
k + 2K … (every member reads every row when a batch has fewer than K rows), so the members
see the data in different orders, as separate runs would, and a step costs what one model's
step on the whole batch costs.  Each member learns on its own loss: the training loss is the
mean of the members' cross-entropies on their rows, so no gradient flows between them, and
with AdamW or Muon (whose updates do not depend on the gradient's scale) each member takes
the steps it would take alone, apart from gradient clipping, which sees all members'
gradients as one.

The ensemble predicts the mean of the members' probabilities:

    p(next | context) = (1/K) Σₖ softmax(logitsₖ),

and ``forward`` returns log p as its logits (logsumexp of the members' log-softmaxes minus
log K), so everything downstream (evaluation, sampling, temperature, top-k) treats the
ensemble as one model.  In eval mode its loss is the cross-entropy of that mixture.

Why: a small model on a small data set is limited by variance, not by steps.  GPTs that
differ in their initialisation, their data order and their dropout masks make different
mistakes, and averaging their probabilities scores better than either.  On names.txt two
separate 570-second runs of a single GPT (test 1.9156 and 1.9166) give 1.8989 together,
while one run of twice the length gives 1.9132; ``makemore-tuned`` trains two members in one
570-second run to test 1.893.

Parameter names carry the member: ``members.0.transformer.wte.weight`` …; ``member_name``
strips the prefix, so the optimizer's roles and the diagnostics' groups read a member's
parameter as the GPT's own.  Features that look inside one GPT (the glass engine, Hugging
Face export, FSDP, the diagnostics probe, the attention figures) refuse or skip an ensemble.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from glassgpt.config import ModelConfig
from glassgpt.models.gpt import GPT
from glassgpt.models.weights import check_weights

_MEMBER = re.compile(r"^members\.\d+\.")


def member_name(name: str) -> str:
    """A parameter's name inside its member (``members.1.lm_head.weight`` -> ``lm_head.weight``);
    other names are returned unchanged."""
    return _MEMBER.sub("", name, count=1)


def mixture_log_probs(member_logits: list[torch.Tensor]) -> torch.Tensor:
    """log of the mean of the members' softmaxes, (..., V) in float32."""
    logp = torch.stack([F.log_softmax(logits.float(), dim=-1) for logits in member_logits])
    return torch.logsumexp(logp, dim=0) - math.log(len(member_logits))


def _share(t: torch.Tensor | None, rows: slice, batch: int) -> torch.Tensor | None:
    """A member's rows of a per-row tensor (positions may also be one row for all, (1, T))."""
    return t if t is None or t.size(0) != batch else t[rows]


class EnsembleCache:
    """One ``KVCache`` per member, advancing together (``length`` is theirs)."""

    def __init__(self, caches: list):
        self.members = caches

    @property
    def length(self) -> int:
        return self.members[0].length


class Ensemble(nn.Module):
    """``cfg.ensemble`` GPTs of shape ``cfg``; the same ``forward`` as ``GPT`` (see the module docstring)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.members = nn.ModuleList(GPT(cfg) for _ in range(cfg.ensemble))

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_cache: EnsembleCache | None = None,
        *,
        positions: torch.Tensor | None = None,
        segments: torch.Tensor | None = None,
        last_only: bool = False,
    ):
        """idx (B, T) -> (log mixture probabilities (B, T, V), loss); the loss is the
        cross-entropy of the mixture.  In training with targets, each member reads its share of
        the rows and the result is ``(None, mean of the members' losses)``: no member predicts
        every row, so there is no mixture to return."""
        if self.training and targets is not None:
            return None, self._training_loss(idx, targets, positions, segments)
        caches = kv_cache.members if kv_cache is not None else [None] * len(self.members)
        logits = mixture_log_probs(
            [
                m(idx, None, c, positions=positions, segments=segments, last_only=last_only)[0]
                for m, c in zip(self.members, caches)
            ]
        )
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def _training_loss(self, idx, targets, positions, segments) -> torch.Tensor:
        K, B = len(self.members), idx.size(0)
        losses = []
        for k, m in enumerate(self.members):
            rows = slice(k, None, K) if B >= K else slice(None)
            losses.append(
                m(idx[rows], targets[rows], positions=_share(positions, rows, B), segments=_share(segments, rows, B))[1]
            )
        return torch.stack(losses).mean()

    def new_kv_cache(self, batch_size: int, max_len: int | None = None) -> EnsembleCache:
        return EnsembleCache([m.new_kv_cache(batch_size, max_len) for m in self.members])

    def embedding(self) -> torch.Tensor:
        """The first member's token embedding table (what the embedding figure draws)."""
        return self.members[0].transformer.wte.weight

    def weights(self) -> dict[str, torch.Tensor]:
        return {f"members.{i}.{name}": t for i, m in enumerate(self.members) for name, t in m.weights().items()}

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        check_weights({name: t.shape for name, t in self.weights().items()}, tensors)
        for i, m in enumerate(self.members):
            prefix = f"members.{i}."
            m.load_weights({name[len(prefix) :]: t for name, t in tensors.items() if name.startswith(prefix)})

    def num_params(self) -> int:
        return sum(m.num_params() for m in self.members)

    def param_table(self) -> list[tuple[str, tuple[int, ...], int]]:
        return [(n, tuple(p.shape), p.numel()) for n, p in self.named_parameters()]
