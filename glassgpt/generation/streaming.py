"""Streaming generation: one token at a time, with its probability and the alternatives.

``stream_tokens(model, prompt_ids, ...)`` yields a ``StreamedToken`` per new token as soon
as it is drawn: its id, its probability under the model (temperature 1, no top-k/top-p
cut: what the model believes), its probability under the distribution it was actually
drawn from (after temperature, top-k and top-p; 1 for greedy decoding), and the model's
``top`` most likely tokens with their probabilities.  It decodes through the same loop
as ``sample.generate`` (``sample.decode_steps``: KV cache, cropping at the context), so
for the same seed and settings a stream gives exactly ``generate``'s tokens.

``TextStream`` turns streamed ids into text pieces for display: each token's UTF-8 bytes
go through an incremental decoder, so a character split over several byte-level tokens
appears whole, with the token that completes it.

A ``steer`` (a constraint's ``ConstrainedRow``, a tool loop's ``ToolRow``) steers the stream as
it steers ``generate``: the stream ends when the steer ends the row, ``sample_prob`` is the
probability under the steered distribution, and a token the steer forced (a tool's output)
is marked ``forced`` (its ``sample_prob`` is 1).

The chat terminal and the web playground (``glassgpt.serve``) both stream through here.
Each call owns its generator, KV cache and token buffer; ``lock`` (any context manager,
e.g. a ``threading.Lock``) is held around every model step, so concurrent streams on one
model interleave step by step without sharing state.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from glassgpt.errors import GlassError
from glassgpt.generation.sampling import DEFAULTS, SamplingSettings, decode_steps, filter_logits
from glassgpt.generation.steering import END, RowSteer
from glassgpt.tokenizers import Tokenizer


@dataclass(frozen=True)
class StreamedToken:
    id: int
    prob: float  # P(token) under the model (softmax of the raw logits)
    sample_prob: float  # P(token) under the distribution it was drawn from
    top: tuple[tuple[int, float], ...]  # the most likely tokens under the model, (id, probability)
    forced: bool = False  # written by the program (a tool's output), not drawn


def stream_tokens(
    model,
    prompt_ids: Sequence[int],
    max_new_tokens: int = DEFAULTS.max_new_tokens,
    temperature: float = DEFAULTS.temperature,
    top_k: int | None = DEFAULTS.top_k,
    top_p: float | None = DEFAULTS.top_p,
    seed: int | None = None,
    stop_ids: Sequence[int] = (),
    max_context: int | None = None,
    top: int = 10,
    lock=None,
    steer: RowSteer | None = None,
) -> Iterator[StreamedToken]:
    """Yield up to ``max_new_tokens`` new tokens continuing ``prompt_ids`` (a stop id is yielded,
    then the stream ends).  Arguments as ``sample.generate``; ``top``: alternatives per token;
    ``lock``: held around each model step; ``steer``: see the module docstring.  The model is
    put in eval mode."""
    SamplingSettings(max_new_tokens, temperature, top_k, top_p).check()
    if len(prompt_ids) == 0:
        raise GlassError("the prompt is empty; give at least one token to start from.")
    if max_context is not None and max_context < 1:
        raise GlassError("max_context must be at least 1.")
    block = min(max_context or model.config.block_size, model.config.block_size)
    model.eval()
    lock = lock if lock is not None else contextlib.nullcontext()
    watched = _Watched(steer) if steer is not None else None
    steps = decode_steps(
        model,
        [list(prompt_ids)],
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        seed,
        True,
        block,
        [watched] if watched is not None else None,
    )
    stops = set(int(i) for i in stop_ids)
    while True:
        # grad mode is per thread: enter inference mode around each step, never across a yield
        with lock, torch.inference_mode():
            try:
                nxt, logits = next(steps)
            except StopIteration:
                return
            if int(nxt[0]) == END:
                return
            if watched is None:
                token = _describe(int(nxt[0]), logits[0].float(), temperature, top_k, top_p, top)
            else:
                token = _describe(int(nxt[0]), logits[0].float(), temperature, top_k, top_p, top, watched)
        yield token
        if token.id in stops:
            steps.close()
            return


def _describe(idx: int, logits: torch.Tensor, temperature, top_k, top_p, top: int, watched=None) -> StreamedToken:
    probs = logits.softmax(-1)
    forced = watched is not None and watched.forced_last
    if temperature == 0 or forced:
        sample_prob = 1.0
    else:
        drawn_from = logits if watched is None else watched.last
        sample_prob = float(filter_logits(drawn_from[None].float(), temperature, top_k, top_p).softmax(-1)[0, idx])
    k = max(0, min(top, probs.numel()))
    values, ids = probs.topk(k)
    return StreamedToken(idx, float(probs[idx]), sample_prob, tuple(zip(ids.tolist(), values.tolist())), forced)


class _Watched:
    """A steer that remembers its last step: the logits it gave, or that it forced a token."""

    def __init__(self, steer: RowSteer):
        self.steer = steer
        self.last = torch.empty(0)
        self.forced_last = False

    @property
    def done(self) -> bool:
        return self.steer.done

    def forced(self) -> int | None:
        token = self.steer.forced()
        self.forced_last = token is not None
        return token

    def adjust(self, logits: torch.Tensor, remaining: int) -> torch.Tensor:
        self.last = self.steer.adjust(logits, remaining)
        return self.last

    def push(self, token: int) -> None:
        self.steer.push(token)


class TextStream:
    """Streamed ids -> text pieces: ``push(id)`` returns the text that id completes ("" while a
    multi-byte character is still incomplete); ``flush()`` returns what is left (broken
    UTF-8 as U+FFFD)."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, idx: int) -> str:
        return self._decoder.decode(self.tokenizer.token_bytes(idx))

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)
