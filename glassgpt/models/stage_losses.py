"""The losses of the stages after fine-tuning, in torch: Bradley–Terry, DPO, the policy gradient.

Each reads what the model computed (a reward model's scores, or the log-probabilities of the
tokens it was shown) and returns the mean loss with the per-item numbers the metrics report.
The training objectives (``training.objectives``) call these; the glass box writes each one's
gradient by hand in NumPy (``glass.bradley_terry``, ``glass.dpo``, ``glass.policy_gradient``)
and checks it against torch's autograd of these very functions (``glass.stage_gradcheck``).

- **Bradley–Terry** (a reward model): P(chosen ≻ rejected) = σ(r_c − r_r); the loss is
  −log σ(r_c − r_r − m), m an optional margin the chosen score must win by.
- **DPO**: with the log-probability of a whole completion, log π(y) = Σ_t log π(y_t | …),
  and the frozen reference's, the implicit reward of y is β (log π(y) − log π_ref(y)); the
  loss is −log σ(r(chosen) − r(rejected)): Bradley–Terry on implicit rewards.  With α > 0 the
  chosen replies' negative log-likelihood per token, −log π(y_w) / |y_w|, is added with weight
  α (Pang et al., 2024, "Iterative Reasoning Preference Optimization"): plain DPO may lower
  both replies' probability as long as the rejected one falls faster, and this term keeps the
  chosen reply likely.
- **The policy gradient**: per generated token, the surrogate ρ_t A with ρ_t = π(y_t)/π_old(y_t)
  (1 on a fresh rollout, so its gradient is A ∇log π: REINFORCE), clipped PPO-style to
  min(ρA, clip(ρ, 1−ε, 1+ε)A) when ε > 0, plus β times the k3 estimate of the KL divergence to
  the reference, k3 = e^δ − δ − 1 with δ = log π_ref − log π (never negative, unbiased for
  KL(π‖π_ref) under samples of π).  The loss is −surrogate + β·k3 averaged over every
  generated token of the batch (per-token normalisation: a long completion counts by its tokens).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _wide(logits: torch.Tensor) -> torch.Tensor:
    """The logits in float32 at least (bfloat16 logits are widened; float64 ones kept, for checks)."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[target] for every position (B, T), in float32 at least; 0 where the target is -1."""
    logp = F.log_softmax(_wide(logits), dim=-1)
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return picked * (targets >= 0)


def reply_tokens(targets: torch.Tensor) -> torch.Tensor:
    """Each row's count of counted targets (≠ -1), at least 1: a reply's length in tokens (B,)."""
    return (targets >= 0).sum(-1).clamp(min=1)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """The entropy (nats) of every position's next-token distribution (B, T)."""
    logp = F.log_softmax(_wide(logits), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def bradley_terry(chosen: torch.Tensor, rejected: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Mean of −log σ(r_chosen − r_rejected − margin) over the pairs."""
    return -F.logsigmoid(chosen - rejected - margin).mean()


def dpo(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    nll: float = 0.0,
    chosen_tokens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean loss, implicit reward of the chosen, of the rejected) from the summed log-probabilities
    of each completion under the policy and the reference (all (B,)); with ``nll`` = α > 0, plus
    α times the mean of −log π(chosen) / ``chosen_tokens`` (``reply_tokens`` of the chosen, (B,))."""
    reward_c, reward_r = beta * (chosen - ref_chosen), beta * (rejected - ref_rejected)
    loss = -F.logsigmoid(reward_c - reward_r).mean()
    if nll:
        loss = loss + nll * (-chosen / chosen_tokens).mean()
    return loss, reward_c, reward_r


def k3(logp: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """The k3 estimate of KL(π‖π_ref) per token: e^δ − δ − 1, δ = log π_ref − log π."""
    delta = ref - logp
    return torch.expm1(delta) - delta


def policy_gradient(
    logp: torch.Tensor,
    old: torch.Tensor,
    ref: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    kl_beta: float = 0.0,
    clip: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean loss per generated token, per-token k3 (B, T), per-token "was clipped" (B, T)).

    ``logp``, ``old``, ``ref``: (B, T) log-probabilities of the generated tokens under the policy,
    the policy that sampled them and the reference; ``advantages`` (B,); ``mask`` (B, T) True on
    generated tokens."""
    ratio = torch.exp(logp - old)
    adv = advantages.unsqueeze(-1)
    surrogate = ratio * adv
    clipped = torch.zeros_like(mask)
    if clip > 0:
        bounded = ratio.clamp(1 - clip, 1 + clip) * adv
        clipped = (bounded < surrogate) & mask
        surrogate = torch.minimum(surrogate, bounded)
    kl = k3(logp, ref)
    per_token = -surrogate + kl_beta * kl
    n = mask.sum().clamp(min=1)
    return (per_token * mask).sum() / n, kl * mask, clipped
