"""Generation: temperature, top-k, top-p (nucleus), stop tokens/strings, batches, a KV cache.

The model runs in eval mode.  Until the context fills the model's block size each new
token costs one position's work: ``GPT.forward`` keeps the keys and values of earlier
positions in a preallocated ``KVCache``.  After that the context is cropped to the last
``block_size`` tokens and recomputed, exactly as without a cache — the cache changes
speed, never results.

A batch of prompts of different lengths is left-padded: padding is a segment of its own
that no prompt token reads, and each row's positions start at 0 with its first token, so
every row generates what its prompt would generate alone.

A model trained on sequences shorter than its block size (the ``poem`` preset trains
windows of 64 in a context of 128) never learned the later position embeddings, so pass
``max_context`` = the trained length (``runs.load_run(dir).trained_context``): the context
is then cropped to it.

Defaults live in ``SamplingSettings`` (``generation.settings``: temperature 0.8, 300 new tokens, no top-k/top-p,
one sample); the CLI and ``glassgpt.generate`` both read them from ``DEFAULTS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from glassgpt.config.schema import SEED_MAX
from glassgpt.device import device_of
from glassgpt.errors import ConfigError, GlassError
from glassgpt.generation.settings import DEFAULTS, check_request, check_sampling, filter_logits
from glassgpt.generation.settings import SamplingSettings as SamplingSettings
from glassgpt.generation.shots import SEPARATOR, few_shot_prompt, read_shots
from glassgpt.generation.speculative import SpeculativeStats, speculative_generate
from glassgpt.generation.steering import END, RowSteer
from glassgpt.generation.tools import tool_rows
from glassgpt.tokenizers import Tokenizer


@torch.inference_mode()
def generate_batch(
    model,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    temperature: float = DEFAULTS.temperature,
    top_k: int | None = DEFAULTS.top_k,
    top_p: float | None = DEFAULTS.top_p,
    seed: int | Sequence[int] | None = None,
    stop_ids: tuple[int, ...] = (),
    use_cache: bool = True,
    max_context: int | None = None,
    on_token: Callable[[], None] | None = None,
    steer: Callable[[int], RowSteer] | None = None,
) -> list[list[int]]:
    """Continue every prompt (lists of ids, any lengths) by up to ``max_new_tokens``, all rows
    in one batch; returns the new ids of each row.  Every row gives exactly what its prompt
    gives alone with that row's seed.

    ``temperature=0`` is greedy decoding.  A row ends early at any id in ``stop_ids`` (the
    stop id is kept).  ``seed``: row i draws from its own generator seeded ``seed + i``
    (or ``seed[i]`` for a list), without touching the global random state.
    ``max_context`` crops the context (default and upper bound: the block size).
    ``on_token()`` is called after each generated position (for a progress bar).  ``steer(i)``
    makes the ``RowSteer`` of row i (a constraint, a tool loop); a row it ends stops there."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise GlassError("the prompt is empty; give at least one token to start from.")
    if max_context is not None and max_context < 1:
        raise GlassError("max_context must be at least 1.")
    check_request(model, len(prompts), max(len(p) for p in prompts), max_new_tokens, temperature, top_k, top_p, seed)
    was_training = model.training
    model.eval()
    try:
        return _decode(
            model,
            prompts,
            max_new_tokens,
            temperature,
            top_k,
            top_p,
            seed,
            stop_ids,
            use_cache,
            min(max_context or model.config.block_size, model.config.block_size),
            on_token,
            [steer(i) for i in range(len(prompts))] if steer is not None else None,
        )
    finally:
        model.train(was_training)


def decode_steps(
    model,
    prompts,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int | Sequence[int] | None,
    use_cache: bool,
    block: int,
    steers: Sequence[RowSteer | None] | None = None,
):
    """The decoding loop, one step at a time: yields ``(next ids (B,), logits (B, V))`` for each
    new position, the logits those ids were drawn from; a row its steer has ended gets ``END``
    (-1) and nothing more.  The caller has checked the settings, put the model in eval mode
    and runs under ``torch.inference_mode()``; it may stop early.  ``generate_batch`` and
    ``streaming.stream_tokens`` both decode through here, so a stream gives exactly the
    tokens ``generate`` gives for the same seed."""
    device = device_of(model)
    gens = row_generators(seed, len(prompts), device)
    B, P = len(prompts), max(len(p) for p in prompts)
    total = P + max_new_tokens
    tokens = torch.zeros(B, total, dtype=torch.long)  # left-padded prompts, then the new tokens
    for i, p in enumerate(prompts):
        tokens[i, P - len(p) : P] = torch.tensor(p, dtype=torch.long)
    tokens = tokens.to(device)
    pads = torch.tensor([P - len(p) for p in prompts], device=device).unsqueeze(1)  # (B, 1)
    padded = bool(pads.any())
    columns = torch.arange(total, device=device).unsqueeze(0)
    cache, n = None, P
    use_cache = use_cache and hasattr(model, "new_kv_cache")  # a ladder model reads one window a step
    for step in range(max_new_tokens):
        if use_cache and n <= block:
            if cache is None:  # the prompt, all at once
                cache = model.new_kv_cache(B, min(total, block))
                logits = _step(model, tokens, columns, pads, padded, 0, n, cache)
            else:  # one new token per row
                logits = _step(model, tokens, columns, pads, padded, n - 1, n, cache)
        else:  # the last `block` tokens, recomputed (positions shift, so nothing can be reused)
            logits = _step(model, tokens, columns, pads, padded, max(0, n - block), n, None)
        if steers is None:
            nxt = draw(logits, temperature, top_k, top_p, gens)
        else:
            nxt = _steered(logits, temperature, top_k, top_p, gens, steers, max_new_tokens - step)
        tokens[:, n] = nxt.clamp(min=0)  # an ended row reads filler from here on, never used
        n += 1
        yield nxt, logits


def row_generators(seed: int | Sequence[int] | None, rows: int, device) -> list[torch.Generator]:
    """One generator per row: seeded ``seed + i`` (modulo 2³²), or ``seed[i]``, or at random."""
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    seeds = [(seed + i) % (SEED_MAX + 1) for i in range(rows)] if isinstance(seed, int) else list(seed)
    if len(seeds) != rows:
        raise GlassError(f"{len(seeds)} seeds were given for {rows} rows; give one per row.")
    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


def draw(logits: torch.Tensor, temperature: float, top_k, top_p, gens: Sequence[torch.Generator]) -> torch.Tensor:
    """The next id of every row (B,): the argmax at temperature 0, else one draw from each row's
    filtered distribution with that row's own generator (so a row never depends on the others)."""
    if temperature == 0:
        return logits.argmax(-1)
    probs = filter_logits(logits.float(), temperature, top_k, top_p).softmax(-1)
    return torch.cat([torch.multinomial(probs[i : i + 1], 1, generator=g)[0] for i, g in enumerate(gens)])


def _steered(logits, temperature, top_k, top_p, gens, steers, remaining: int) -> torch.Tensor:
    """``draw`` for rows with steers: a forced token is taken as it is, an ended row gets END,
    the others draw from their steer's logits (the last column is its END choice)."""
    B, V = logits.shape
    out = torch.full((B,), END, dtype=torch.long, device=logits.device)
    rows, wide = [], []
    for i, s in enumerate(steers):
        if s is not None and s.done:
            continue
        forced = s.forced() if s is not None else None
        if forced is not None:
            out[i] = forced
            s.push(forced)
            continue
        if s is None:
            wide.append(torch.cat([logits[i], logits.new_full((1,), float("-inf"))]))
        else:
            wide.append(s.adjust(logits[i], remaining))
        rows.append(i)
    if rows:
        picked = draw(torch.stack(wide), temperature, top_k, top_p, [gens[i] for i in rows])
        for i, tok in zip(rows, picked.tolist()):
            tok = END if tok == V else tok
            out[i] = tok
            if steers[i] is not None:
                steers[i].push(tok)
    return out


def _decode(
    model, prompts, max_new_tokens, temperature, top_k, top_p, seed, stop_ids, use_cache, block, on_token, steers
):
    device = device_of(model)
    stops = torch.tensor(stop_ids, dtype=torch.long, device=device) if stop_ids else None
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    steps = []
    for nxt, _ in decode_steps(
        model, prompts, max_new_tokens, temperature, top_k, top_p, seed, use_cache, block, steers
    ):
        steps.append(nxt)
        if on_token is not None:
            on_token()
        done |= nxt == END
        if stops is not None:
            done |= torch.isin(nxt, stops)
        if bool(done.all()):
            break
    result = []
    for row in torch.stack(steps, 1).tolist() if steps else [[] for _ in prompts]:
        for j, tok in enumerate(row):
            if tok == END:
                row = row[:j]
                break
            if tok in stop_ids:
                row = row[: j + 1]
                break
        result.append(row)
    return result


def _step(model, tokens, columns, pads, padded, lo, hi, cache):
    """Logits (B, V) after running columns [lo, hi) of ``tokens``, appending to ``cache`` if given.

    Unpadded, positions and segments are the model's defaults.  Left-padded, every row's
    positions count from its first real token within the window that starts at column
    ``w0`` (0 with a cache): position = column − max(pad, w0); padding is segment 0."""
    if not padded:
        return model(tokens[:, lo:hi], kv_cache=cache, last_only=True)[0][:, -1]
    w0 = 0 if cache is not None else lo
    positions = (columns[:, lo:hi] - pads.clamp(min=w0)).clamp(min=0)
    segments = None
    if cache is None or cache.length == 0:
        segments = (columns[:, lo:hi] >= pads).long()
    return model(tokens[:, lo:hi], kv_cache=cache, positions=positions, segments=segments, last_only=True)[0][:, -1]


def generate(
    model,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    temperature: float = DEFAULTS.temperature,
    top_k: int | None = DEFAULTS.top_k,
    top_p: float | None = DEFAULTS.top_p,
    num_samples: int = DEFAULTS.num_samples,
    seed: int | None = None,
    stop_ids: tuple[int, ...] = (),
    use_cache: bool = True,
    max_context: int | None = None,
    on_token: Callable[[], None] | None = None,
    steer: Callable[[int], RowSteer] | None = None,
) -> list[list[int]]:
    """Sample ``num_samples`` continuations of one prompt in one batch; returns the new ids of
    each.  Sample i is what ``num_samples=1`` gives with ``seed + i`` (see ``generate_batch``
    for the arguments)."""
    check_sampling(max_new_tokens, temperature, top_k, top_p, num_samples, seed)
    return generate_batch(
        model,
        [list(prompt_ids)] * num_samples,
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        seed,
        stop_ids,
        use_cache,
        max_context,
        on_token,
        steer,
    )


def default_prompt_ids(tokenizer: Tokenizer) -> list[int]:
    """A neutral start: a newline (or the end-of-line word) when the vocabulary has one, else id 0."""
    for probe in ("\n", "<END>", "<|endoftext|>"):
        try:
            ids = tokenizer.encode(probe) if probe == "\n" else [tokenizer.special_tokens[probe]]
            if len(ids) == 1:
                return ids
        except Exception:
            continue
    return [0]


def cut_at_stop(text: str, stops: list[str]) -> str:
    """Text up to (not including) the first occurrence of any stop string."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


def sample_text(
    model,
    tokenizer,
    prompt: str = "",
    max_new_tokens: int = DEFAULTS.max_new_tokens,
    temperature: float = DEFAULTS.temperature,
    top_k: int | None = DEFAULTS.top_k,
    top_p: float | None = DEFAULTS.top_p,
    num_samples: int = DEFAULTS.num_samples,
    seed: int | None = None,
    stop: list[str] | None = None,
    max_context: int | None = None,
    on_token: Callable[[], None] | None = None,
    regex: str | None = None,
    choices: str | list[str] | None = None,
    json_schema: dict | str | Path | None = None,
    shots: str | Path | None = None,
    draft=None,
    draft_tokens: int = 4,
    stats: dict | None = None,
) -> list[str]:
    """Text in, text out: the prompt followed by each sampled continuation.

    An empty prompt starts from a neutral token (a newline where the vocabulary has one).
    ``stop`` strings cut the continuation before their first occurrence; a stop string
    that is a single token also ends generation early.  ``max_context``: the trained
    context to crop to (``runs.load_run(dir).trained_context``; default the block size).
    ``on_token`` as in ``generate_batch``.  ``regex``, ``choices`` (a list, or one string
    ``"A|B|C"``) or ``json_schema`` (a dict or a file): the continuation must match it
    (``generation.constraints``); refused before sampling when no continuation can.
    ``shots``: a JSONL file of examples written before the prompt (``generation.shots``; the
    result leaves them out, and ``stop`` defaults to a newline).  ``draft``: a small model with
    the same tokenizer that guesses ``draft_tokens`` tokens for the model to check
    (``generation.speculative``: the same distribution, fewer passes of the model; samples
    are drawn one after another); ``stats`` receives its counts.  A run whose tokenizer has
    the tool tokens runs the calculator calls its model writes (``generation.tools``)."""
    check_sampling(max_new_tokens, temperature, top_k, top_p, num_samples, seed)
    steer = constrained_rows(tokenizer, max_new_tokens, regex, choices, json_schema) or tool_rows(tokenizer)
    examples = few_shot_prompt(read_shots(shots)) if shots else ""
    if shots and stop is None:
        stop = [SEPARATOR]
    text = examples + prompt
    ids = tokenizer.encode(text) if text else default_prompt_ids(tokenizer)
    stop_ids = []
    for s in stop or []:
        try:
            enc = tokenizer.encode(s)
        except GlassError:
            continue
        if len(enc) == 1:
            stop_ids.append(enc[0])
    if draft is not None:
        if regex or choices or json_schema:
            raise ConfigError("--draft and a constraint cannot be combined; sample with one of them.")
        counts = SpeculativeStats()
        outs = []
        for i in range(num_samples):
            row_seed = None if seed is None else (seed + i) % (SEED_MAX + 1)
            outs.append(
                speculative_generate(
                    model,
                    draft,
                    ids,
                    max_new_tokens,
                    draft_tokens,
                    temperature,
                    top_k,
                    top_p,
                    row_seed,
                    tuple(stop_ids),
                    max_context,
                    counts,
                )
            )
            if on_token is not None:
                on_token()
        if stats is not None:
            stats.update(counts.as_dict())
    else:
        outs = generate(
            model,
            ids,
            max_new_tokens,
            temperature,
            top_k,
            top_p,
            num_samples,
            seed,
            tuple(stop_ids),
            max_context=max_context,
            on_token=on_token,
            steer=steer,
        )
    start = tokenizer.decode(ids) if text else ""
    results = []
    for new in outs:
        continuation = tokenizer.decode(ids + new)[len(start) :]
        results.append(prompt + (cut_at_stop(continuation, stop) if stop else continuation))
    return results


def constrained_rows(
    tokenizer: Tokenizer,
    max_new_tokens: int,
    regex: str | None = None,
    choices: str | list[str] | None = None,
    json_schema: dict | str | Path | None = None,
) -> Callable[[int], RowSteer] | None:
    """The ``steer`` of ``generate`` for a constraint (None without one), checked against the
    vocabulary and ``max_new_tokens`` before anything is sampled.  The constraint machinery
    (and its regular-expression library) is imported here, so plain sampling never loads it."""
    from glassgpt.generation.constraints import ConstrainedRow, automaton_for, make_constraint, require_room

    constraint = make_constraint(regex, choices, json_schema)
    if constraint is None:
        return None
    automaton = automaton_for(constraint, tokenizer)
    require_room(automaton, max_new_tokens)
    return lambda row: ConstrainedRow(automaton)
