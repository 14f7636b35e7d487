"""Objectives: what the torch engine's step minimises, chosen by ``train.objective``.

The engine's step is the same for every objective (forward, backward per micro-batch, clip,
step); only the loss differs, so it is a small object the engine asks:

- ``loss(model, *batch)`` -> (the micro-batch's mean loss, its figures as sums);
- ``sums(model, *batch)`` -> (summed loss, count) for the estimate and the final evaluation;
- ``summary(figures, seconds)`` -> the step's extra metrics (what ``metrics.jsonl`` records
  beside the loss; nothing for the language model).

=============  ============================  ==============================================
objective      a batch (its source)          the loss (``models.stage_losses``)
=============  ============================  ==============================================
``lm``         x, y[, segments] (text,       next-token cross-entropy over the targets != -1
               words, conversations)
``reward``     ``PAIR_FIELDS`` (pairs)       Bradley–Terry on the reward model's scores
``dpo``        ``PAIR_FIELDS`` (pairs)       DPO on the replies' log-probabilities
``pg``         ``ROLLOUT_FIELDS`` (prompts)  the policy gradient: −ρA (clipped) + β·k3 per token
=============  ============================  ==============================================

The reward model's evaluation is its Bradley–Terry loss on held-out pairs; DPO's and RL's are
the response loss of held-out answers, the language model's sums.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from glassgpt.config import RunConfig
from glassgpt.models.nll import summed_nll
from glassgpt.models.segments import document_positions
from glassgpt.models.stage_losses import (
    bradley_terry,
    dpo,
    policy_gradient,
    reply_tokens,
    token_entropy,
    token_logprobs,
)

Model = Callable[..., Any]
Figures = dict[str, torch.Tensor]


def documents(segments: torch.Tensor | None) -> dict:
    """Model keywords for per-token document ids: attention within a document, positions from 0 in each."""
    if segments is None:
        return {}
    positions = torch.from_numpy(document_positions(segments.cpu().numpy())).to(segments.device)
    return {"segments": segments, "positions": positions}


def _totals(figures: list[Figures]) -> dict[str, float]:
    return {k: float(sum(f[k] for f in figures)) for k in figures[0]} if figures else {}


class LanguageModel:
    """Next-token cross-entropy: pretraining and supervised fine-tuning."""

    def loss(self, model: Model, x: torch.Tensor, y: torch.Tensor, segments: torch.Tensor | None = None):
        _, loss = model(x, y, **documents(segments))
        return loss, {}

    def sums(self, model: Model, x: torch.Tensor, y: torch.Tensor, segments: torch.Tensor | None = None):
        logits, _ = model(x, **documents(segments))
        return float(summed_nll(logits, y)), int((y != -1).sum())

    def summary(self, figures: list[Figures], seconds: float) -> dict[str, float]:
        return {}


class BradleyTerry:
    """The reward model: −log σ(r_chosen − r_rejected − margin) per pair."""

    def __init__(self, margin: float):
        self.margin = margin

    def scores(self, model: Model, chosen, rejected, ends) -> tuple[torch.Tensor, torch.Tensor]:
        r = model.rewards(torch.cat([chosen, rejected]), torch.cat([ends[:, 0], ends[:, 1]])).float()
        return r[: len(chosen)], r[len(chosen) :]

    def loss(self, model: Model, chosen, chosen_targets, rejected, rejected_targets, ends, reference):
        rc, rr = self.scores(model, chosen, rejected, ends)
        with torch.no_grad():
            figures = {"pairs": torch.tensor(len(rc)), "right": (rc > rr).sum(), "margin": (rc - rr).sum()}
        return bradley_terry(rc, rr, self.margin), figures

    def sums(self, model: Model, chosen, chosen_targets, rejected, rejected_targets, ends, reference):
        rc, rr = self.scores(model, chosen, rejected, ends)
        return float(-F.logsigmoid(rc - rr - self.margin).sum()), len(rc)

    def summary(self, figures: list[Figures], seconds: float) -> dict[str, float]:
        t = _totals(figures)
        return {"pair_accuracy": t["right"] / t["pairs"], "reward_margin": t["margin"] / t["pairs"]}


class DirectPreference:
    """DPO: Bradley–Terry on the implicit rewards β (log π(y) − log π_ref(y)), plus α times the
    chosen replies' per-token NLL when ``nll`` = α > 0."""

    def __init__(self, beta: float, nll: float = 0.0):
        self.beta, self.nll = beta, nll

    def loss(self, model: Model, chosen, chosen_targets, rejected, rejected_targets, ends, reference):
        logits, _ = model(torch.cat([chosen, rejected]))
        logp = token_logprobs(logits, torch.cat([chosen_targets, rejected_targets])).sum(-1)
        n = len(chosen)
        tokens = reply_tokens(chosen_targets)
        loss, rc, rr = dpo(logp[:n], logp[n:], reference[:, 0], reference[:, 1], self.beta, self.nll, tokens)
        with torch.no_grad():
            figures = {
                "pairs": torch.tensor(len(rc)),
                "right": (rc > rr).sum(),
                "margin": (rc - rr).sum(),
                "chosen": rc.sum(),
                "rejected": rr.sum(),
                "chosen_nll": (-logp[:n] / tokens).sum(),
            }
        return loss, figures

    def sums(self, model: Model, x: torch.Tensor, y: torch.Tensor, segments: torch.Tensor | None = None):
        return LanguageModel().sums(model, x, y, segments)

    def summary(self, figures: list[Figures], seconds: float) -> dict[str, float]:
        t = _totals(figures)
        n = t["pairs"]
        return {
            "implicit_accuracy": t["right"] / n,
            "implicit_margin": t["margin"] / n,
            "chosen_reward": t["chosen"] / n,
            "rejected_reward": t["rejected"] / n,
            "chosen_nll": t["chosen_nll"] / n,
        }


class PolicyGradient:
    """RL on rollouts: −min(ρA, clip(ρ)A) + β·k3 per generated token, averaged over them."""

    def __init__(self, kl_beta: float, clip: float):
        self.kl_beta, self.clip = kl_beta, clip

    def loss(self, model: Model, tokens, targets, advantages, old, ref, rewards, correct, speed):
        logits, _ = model(tokens)
        mask = targets >= 0
        logp = token_logprobs(logits, targets)
        loss, kl, clipped = policy_gradient(logp, old, ref, advantages, mask, self.kl_beta, self.clip)
        with torch.no_grad():
            known = correct >= 0
            figures = {
                "rows": torch.tensor(len(tokens)),
                "tokens": mask.sum(),
                "reward": rewards.sum(),
                "right": (correct * known).sum(),
                "known": known.sum(),
                "kl": kl.sum(),
                "entropy": (token_entropy(logits) * mask).sum(),
                "clipped": clipped.sum(),
                "speed": speed.mean() * len(tokens),
            }
        return loss, figures

    def sums(self, model: Model, x: torch.Tensor, y: torch.Tensor, segments: torch.Tensor | None = None):
        return LanguageModel().sums(model, x, y, segments)

    def summary(self, figures: list[Figures], seconds: float) -> dict[str, float]:
        t = _totals(figures)
        rows, tokens = t["rows"], max(t["tokens"], 1.0)
        out = {
            "reward": t["reward"] / rows,
            "kl": t["kl"] / tokens,
            "entropy": t["entropy"] / tokens,
            "completion_length": t["tokens"] / rows,
            "rollout_tokens_per_s": t["speed"] / rows,
            "update_tokens_per_s": t["tokens"] / max(seconds, 1e-9),
        }
        if t["known"]:
            out["accuracy"] = t["right"] / t["known"]
        if self.clip > 0:
            out["clip_fraction"] = t["clipped"] / tokens
        return out


def make_objective(cfg: RunConfig):
    """The objective ``train.objective`` names."""
    t = cfg.train
    return {
        "lm": LanguageModel,
        "reward": lambda: BradleyTerry(t.reward_margin),
        "dpo": lambda: DirectPreference(t.dpo_beta, t.dpo_nll),
        "pg": lambda: PolicyGradient(t.kl_beta, t.ppo_clip),
    }[t.objective]()
