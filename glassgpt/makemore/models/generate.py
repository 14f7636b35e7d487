"""Sampling names from any rung: start from an all-``.`` context, draw, shift, repeat until ``.``.

Every sample is drawn from the model's full distribution (``torch.multinomial``) with the
caller's ``torch.Generator``, so a seed gives the same names every time.  The model runs in
eval mode: BatchNorm uses its running statistics, so a batch of one behaves like any batch.
"""

from __future__ import annotations

import torch

from glassgpt.errors import GlassError
from glassgpt.makemore.models.char_model import CharModel

END_ID = 0


@torch.no_grad()
def generate(
    model: CharModel,
    num_samples: int,
    generator: torch.Generator,
    max_length: int = 50,
    temperature: float = 1.0,
    prefix: list[int] | tuple[int, ...] = (),
) -> list[list[int]]:
    """``num_samples`` words as lists of ids, each without its final ``.`` (id 0).

    Every word starts with the ids of ``prefix`` (none: from the very start) and stops at ``.``
    or after ``max_length`` new characters."""
    if num_samples < 1 or max_length < 1 or not temperature > 0:
        raise GlassError("sampling needs num_samples >= 1, max_length >= 1 and a temperature above 0.")
    if END_ID in prefix:
        raise GlassError("the start of a word cannot contain '.', which ends it.")
    was_training = model.training
    model.eval()
    try:
        start = ([END_ID] * model.block_size + list(prefix))[len(prefix) :]
        context = torch.tensor([start] * num_samples, dtype=torch.long)
        words: list[list[int]] = [list(prefix) for _ in range(num_samples)]
        alive = torch.ones(num_samples, dtype=torch.bool)
        for _ in range(max_length):
            logits, _ = model(context)
            probs = torch.softmax(logits.double() / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            alive &= nxt != END_ID
            for i in torch.nonzero(alive).flatten().tolist():
                words[i].append(int(nxt[i]))
            if not alive.any():
                break
            context = torch.cat([context[:, 1:], nxt[:, None]], dim=1)
    finally:
        model.train(was_training)
    return words
