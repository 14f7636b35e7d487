"""Speculative decoding: a small model guesses ``k`` tokens, the large model checks them all in
one forward pass, and acceptance–rejection keeps the output exactly the large model's.

One round, with p the large (target) model's distribution and q the small (draft) model's,
both after temperature, top-k and top-p:

1. the draft samples ``x_1 … x_k`` one after another from q (cheap: a small model, one
   token at a time);
2. the target reads all ``k`` guesses in **one** forward pass, which gives p at each of the
   ``k + 1`` positions (what a token-by-token loop would have needed ``k`` passes for);
3. guess ``x_j`` is accepted with probability ``min(1, p_j(x_j) / q_j(x_j))``; at the first
   rejection a token is drawn instead from the residual ``max(0, p_j − q_j)``, normalised,
   and the round ends; when all ``k`` are accepted, one more token is drawn from
   ``p_{k+1}``, for free.

Each emitted token is then distributed exactly as p (the acceptance probability and the
residual add up to p: P(x) = min(q(x), p(x)) + (1 − Σ min(q, p)) · residual(x)), however poor
the draft: a poor draft only makes rounds shorter.  At temperature 0 both are argmax, a guess
is accepted when it is the target's argmax, and the output is the target's greedy text.

Both models keep a KV cache; a rejection cuts both caches back to the accepted tokens
(``KVCache.truncate``).  The token a round ends with is read by the target in the next
round's pass, together with the next guesses, so each round costs the target **one** pass
(and the draft never reads a guess only a later round would need).  ``SpeculativeStats``
counts the guesses, how many were accepted and the target's passes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from glassgpt.device import device_of
from glassgpt.errors import ConfigError, GlassError
from glassgpt.generation.settings import check_request, filter_logits
from glassgpt.tokenizers import Tokenizer

#: the most guesses one round may make (more is never faster: the draft's work grows, its accuracy falls)
MAX_GUESSES = 32


@dataclass
class SpeculativeStats:
    rounds: int = 0
    proposed: int = 0
    accepted: int = 0
    target_passes: int = 0
    per_round: list[int] = field(default_factory=list)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.proposed if self.proposed else 0.0

    def as_dict(self) -> dict:
        return {
            "rounds": self.rounds,
            "proposed": self.proposed,
            "accepted": self.accepted,
            "acceptance_rate": self.acceptance_rate,
            "target_passes": self.target_passes,
        }


def check_draft(tokenizer: Tokenizer, draft_tokenizer: Tokenizer, guesses: int, draft_name: str = "the draft") -> None:
    """One sentence for a draft that cannot propose for this model, or an absurd ``guesses``."""
    if isinstance(guesses, bool) or not isinstance(guesses, int) or not 1 <= guesses <= MAX_GUESSES:
        raise ConfigError(f"--draft-tokens must be a whole number from 1 to {MAX_GUESSES}, got {guesses!r}.")
    if tokenizer != draft_tokenizer:
        raise ConfigError(
            f"{draft_name} has another tokenizer ({draft_tokenizer.type}, {draft_tokenizer.vocab_size} ids) than "
            f"this run ({tokenizer.type}, {tokenizer.vocab_size} ids); a draft must share the run's tokenizer."
        )


class _Reader:
    """One model reading a growing sequence: cached while it fits the context, else windows."""

    def __init__(self, model, block: int):
        self.model, self.block = model, min(block, model.config.block_size)
        self.device = device_of(model)  # once: it walks the model's state dict
        self.ids: list[int] = []
        self.cache = None

    def extend(self, new: list[int]) -> torch.Tensor:
        """Append ``new`` and return the logits (len(new), V) that predict the token after each."""
        self.ids += new
        n, device = len(self.ids), self.device
        if n <= self.block and hasattr(self.model, "new_kv_cache"):
            if self.cache is None:
                self.cache = self.model.new_kv_cache(1, self.block)
                x = torch.tensor([self.ids], device=device)
                return self.model(x, kv_cache=self.cache)[0][0, -len(new) :]
            x = torch.tensor([new], device=device)
            return self.model(x, kv_cache=self.cache)[0][0]
        self.cache = None  # past the context: each new token's own window of `block` tokens, recomputed
        ends = range(n - len(new) + 1, n + 1)
        x = torch.tensor([self.ids[max(0, e - self.block) : e] for e in ends if e >= self.block], device=device)
        short = [e for e in ends if e < self.block]  # (only when the prompt itself was cut)
        rows = [self.model(torch.tensor([self.ids[:e]], device=device))[0][0, -1] for e in short]
        return torch.cat([torch.stack(rows), self.model(x)[0][:, -1]]) if rows else self.model(x)[0][:, -1]

    def cut(self, n: int) -> None:
        """Forget everything after the first ``n`` tokens."""
        self.ids = self.ids[:n]
        if self.cache is not None:
            self.cache.truncate(min(n, self.cache.length))


def _probs(logits: torch.Tensor, temperature: float, top_k, top_p) -> torch.Tensor:
    """The sampling distribution of each row of ``logits`` (N, V), or of one row (V,)."""
    if logits.dim() == 1:
        return _probs(logits[None], temperature, top_k, top_p)[0]
    return filter_logits(logits.float(), temperature, top_k, top_p).softmax(-1)


def residual(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Where to draw after a rejection: max(0, p − q), normalised (p itself if that is all zero)."""
    r = (p - q).clamp(min=0)
    total = r.sum()
    return r / total if total > 0 else p


@torch.inference_mode()
def speculative_generate(
    target,
    draft,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    guesses: int = 4,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    stop_ids: tuple[int, ...] = (),
    max_context: int | None = None,
    stats: SpeculativeStats | None = None,
) -> list[int]:
    """Up to ``max_new_tokens`` new ids continuing ``prompt_ids``, distributed exactly as
    ``target``'s sampling with these settings (see the module docstring); ``draft`` must share
    its vocabulary.  ``stats`` (optional) receives the counts."""
    if not prompt_ids:
        raise GlassError("the prompt is empty; give at least one token to start from.")
    if not 1 <= guesses <= MAX_GUESSES:
        raise ConfigError(f"--draft-tokens must be a whole number from 1 to {MAX_GUESSES}, got {guesses!r}.")
    check_request(target, 1, len(prompt_ids), max_new_tokens, temperature, top_k, top_p, seed)
    stats = stats if stats is not None else SpeculativeStats()
    gen = torch.Generator(device=device_of(target))
    gen.manual_seed(seed if seed is not None else int.from_bytes(os.urandom(4), "little"))
    block = max_context or target.config.block_size
    big, small = _Reader(target, block), _Reader(draft, block)
    was = (target.training, draft.training)
    target.eval(), draft.eval()
    try:
        seq = list(prompt_ids)  # the prompt and the tokens emitted so far
        for reader in (big, small):  # each reads all but the last token now, the rest with its first round
            if len(seq) > 1:
                reader.extend(seq[:-1])
        out: list[int] = []
        stops = set(stop_ids)
        while len(out) < max_new_tokens and not (out and out[-1] in stops):
            k = min(guesses, max_new_tokens - len(out) - 1, big.block - 1, small.block - 1)
            done = len(seq)
            guessed, qs = [], []
            if k > 0:  # 1. the draft guesses (it never reads its last guess: only a round that keeps it needs it)
                q_next = small.extend(seq[len(small.ids) :])[-1]
                for j in range(k):
                    q = _probs(q_next, temperature, top_k, top_p) if temperature > 0 else None
                    x = int(q_next.argmax()) if q is None else int(torch.multinomial(q, 1, generator=gen))
                    guessed.append(x)
                    qs.append(q)
                    if j < k - 1:
                        q_next = small.extend([x])[-1]
            # 2. one pass of the target: the tokens it has not read yet (the last round's own token) and the guesses
            logits = big.extend(seq[len(big.ids) :] + guessed)[-len(guessed) - 1 :]
            stats.target_passes += 1
            taken = _verify(logits, guessed, qs, temperature, top_k, top_p, gen)  # 3. accept or reject
            accepted = len(taken) - 1  # the last token was drawn by the target, not yet read by either model
            stats.rounds += 1
            stats.proposed += len(guessed)
            stats.accepted += accepted
            stats.per_round.append(accepted)
            taken = taken[: max_new_tokens - len(out)]
            for j, t in enumerate(taken):
                out.append(t)
                if t in stops:
                    taken = taken[: j + 1]
                    break
            seq += taken
            for reader in (big, small):  # forget the guesses that were not kept
                reader.cut(min(len(reader.ids), done + accepted))
        return out
    finally:
        target.train(was[0])
        draft.train(was[1])


def _verify(logits, guessed, qs, temperature, top_k, top_p, gen) -> list[int]:
    """The tokens a round emits: the accepted guesses, then one token drawn by the target.
    ``logits`` (k + 1, V): the target's, at each guess and after the last; all positions are
    filtered (or argmaxed) in one call, the choices then walk the guesses in order."""
    k = len(guessed)
    if temperature == 0:
        best = logits.argmax(-1).tolist()
        agree = next((j for j in range(k) if best[j] != guessed[j]), k)
        return guessed[:agree] + [best[agree]]
    ps = _probs(logits, temperature, top_k, top_p)
    for j, x in enumerate(guessed):
        p, q = ps[j], qs[j]
        u = float(torch.rand(1, generator=gen))
        if u >= min(1.0, float(p[x] / q[x])):
            return guessed[:j] + [int(torch.multinomial(residual(p, q), 1, generator=gen))]
    return guessed + [int(torch.multinomial(ps[k], 1, generator=gen))]
