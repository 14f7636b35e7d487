"""Per-token explanations: what the model predicted at every position, and how wrong it was.

``explain(model, tokenizer, text, top_k=5)`` returns a JSON-ready dict::

    {"tokens": [{"position": 0,            # index of the context token in the text's ids
                 "context": "T",           # that token, rendered (tokenizer.token_str)
                 "target": "h",            # the next token: what the model had to predict
                 "p_target": 0.41,         # P(target | everything up to position)
                 "loss": 0.89,             # −ln p_target (nats)
                 "rank": 1,                # 1 = the model's most likely token
                 "top_k": [["h", 0.41], ["o", 0.2], ...],   # the k most likely tokens
                 "grad_target": -0.59,     # d loss / d logit[target] = p_target − 1
                 "grad_row_sum": 0.0},     # Σ_j (p_j − onehot_j): must be 0
                ...],
     "mean_loss": 1.93, "perplexity": 6.9, "bits_per_byte": 2.78}

The gradient is that of the *per-position* loss −ln p_target with respect to the
position's logits: p − onehot(target), not divided by the number of positions (divide
by N for the gradient of the mean loss).  Every entry except the target's equals the
token's probability, so the largest positive entries are the most likely wrong tokens,
and the row sums to zero (its sum is reported as a check; probabilities are computed
in float64, so it is ~1e−16).  Bits per byte = total loss in bits / UTF-8 bytes of the
predicted tokens.

Texts longer than the model's context (``max_context``, by default ``block_size``) slide:
the first window scores the first ``max_context`` targets, each with all the tokens before
it; every later target is scored in its own window of the ``max_context`` tokens before it
(batched).  So every target gets the longest context available up to ``max_context`` — the
same numbers a model with an unlimited context would give if it only ever looked back ``max_context``
tokens.  ``render(result)`` prints the coloured table.

``explain_text(run, text, constraint=Constraint.regex(...))`` (``glassgpt explain --regex``) also
shows what a constraint does at each position: every row gets ``removed``, the probability
the constraint took from the tokens it does not allow there, and ``p_constrained``, the
target's probability once they are masked (``generation.constraints``: when the text so far
is already a whole match, the masked mass becomes the choice to end, so nothing is lost);
the result says whether the text is a whole ``match``.  The constraint covers every predicted
token (the text after its first token; for a word-list run the name, whose final ``.`` is
the end).  A text the constraint does not allow is refused at the first token that leaves it.

``explain_chat(model, tokenizer, messages)`` applies the chat template (``tokenizers.chat``)
and explains the conversation's ids: every row also says whether its target ``counts`` for
the fine-tuning loss (assistant content and ``<|assistant_end|>``), and the result adds
``response_loss`` (the mean loss over the counted targets: what ``glassgpt finetune``
minimises) and ``counted_targets``.  ``add_stage_view`` adds what a step after fine-tuning
does to each reply token: its policy-gradient push under an advantage (RL), or its share of
the implicit reward against a reference model (DPO); the table colours the reply by it.
"""

from __future__ import annotations

import math

import torch
from rich import box
from rich.markup import escape
from rich.table import Table

from glassgpt.console import console as stdout_console
from glassgpt.data.source import perplexity
from glassgpt.device import device_of
from glassgpt.errors import DataError
from glassgpt.generation.constraints import Constraint, automaton_for
from glassgpt.makemore.models.sequence import START
from glassgpt.makemore.words import encode_word
from glassgpt.models.from_run import LoadedRun
from glassgpt.progress import task
from glassgpt.terminal import printable
from glassgpt.tokenizers.chat_template import render as render_chat

#: most logits (rows × vocabulary) one forward pass of sliding windows may produce
LOGITS_BUDGET = 1 << 24
#: most rows turned into float64 statistics at once
ROWS_PER_CHUNK = 256


@torch.no_grad()
def _logit_chunks(model, ids: list[int], block: int):
    """Yield logits (rows, V) predicting ids[1], ids[2], … in order, each row from the
    longest context available up to ``block`` tokens; memory stays bounded."""
    device = device_of(model)
    t = torch.tensor(ids, dtype=torch.long, device=device)
    first = min(len(ids) - 1, block)
    logits, _ = model(t[:first].unsqueeze(0))
    yield from logits[0].split(ROWS_PER_CHUNK)
    # target j (j > block) gets its own window ids[j-block : j]; only its last row is used
    per_pass = max(1, min(ROWS_PER_CHUNK, LOGITS_BUDGET // (block * logits.size(-1))))
    ends = list(range(block + 1, len(ids)))
    for i in range(0, len(ends), per_pass):
        windows = torch.stack([t[j - block : j] for j in ends[i : i + per_pass]])
        out, _ = model(windows)
        yield out[:, -1]


def _row_stats(logits: torch.Tensor, targets: list[int], k: int) -> dict[str, list]:
    """Per-row p_target, loss, rank, top-k and gradient row sum, in float64 on the CPU."""
    logp = torch.log_softmax(logits.float().cpu().double(), dim=-1)
    probs = logp.exp()
    tgt = torch.tensor(targets, dtype=torch.long)
    rows = torch.arange(len(targets))
    p_target = probs[rows, tgt]
    top_p, top_i = probs.topk(k, dim=-1)
    grad = probs.clone()  # d(−ln p_target)/d logits = p − onehot(target)
    grad[rows, tgt] -= 1.0
    return {
        "p": p_target.tolist(),
        "loss": (-logp[rows, tgt]).tolist(),
        "rank": ((probs > p_target[:, None]).sum(-1) + 1).tolist(),
        "top_p": top_p.tolist(),
        "top_i": top_i.tolist(),
        "row_sum": grad.sum(-1).tolist(),
    }


def explain(
    model, tokenizer, text: str, top_k: int = 5, max_context: int | None = None, progress: bool = False
) -> dict:
    """Per-token probabilities, losses, ranks, top-k alternatives and logit gradients of
    ``text`` under ``model`` (see the module docstring for the returned dict).  Contexts
    are at most ``max_context`` tokens (default and upper bound: the block size; pass the
    trained context, ``runs.load_run(dir).trained_context``, for a model trained on shorter
    windows).  ``progress`` shows a bar for long texts.

    Raises the tokenizer's TokenizerError for text it cannot encode, and DataError when
    the text has fewer than two tokens (nothing to predict)."""
    return explain_ids(model, tokenizer, tokenizer.encode(text), top_k, max_context, progress=progress)


def explain_text(
    run: LoadedRun, text: str, top_k: int = 5, progress: bool = False, constraint: Constraint | None = None
) -> dict:
    """``explain`` of ``text`` under a run's model, for every kind of run: a word-list run
    (the makemore ladder) reads ``text`` as one name between the two ``.`` that start and end
    it, so every character and the end are predicted.  ``constraint``: what it removes at
    each position (see the module docstring)."""
    model, tokenizer = run.language_model, run.tokenizer
    if not run.words:
        ids = tokenizer.encode(text)
        steps = _constraint_steps(constraint, tokenizer, ids, ()) if constraint else None
        return explain_ids(model, tokenizer, ids, top_k, run.trained_context, progress=progress, constrained=steps)
    words = text.split()
    if len(words) != 1:
        raise DataError("a word-list run is explained one name at a time; give one word (no spaces).")
    ids = [START, *encode_word(tokenizer, words[0]), START]
    steps = _constraint_steps(constraint, tokenizer, ids, (START,)) if constraint else None
    return explain_ids(model, tokenizer, ids, top_k, run.trained_context, progress=progress, constrained=steps)


def _constraint_steps(constraint: Constraint, tokenizer, ids: list[int], ends: tuple[int, ...]) -> list:
    """For every predicted position: (the ids the constraint allows, whether the text so far is
    a whole match, whether the target is the end); DataError where the text leaves the constraint.
    ``ends``: an id that ends the text (a word list's ``.``) rather than continuing it."""
    automaton = automaton_for(constraint, tokenizer, excluded=ends)
    what = f"{constraint.what} {constraint.pattern!r}" if constraint.what == "--regex" else constraint.what
    state, steps = automaton.start, []
    for j, target in enumerate(ids[1:], 1):
        allowed = automaton.allowed(state)
        if j == len(ids) - 1 and target in ends and state.complete:
            steps.append((allowed, True, True))
            return steps
        if not bool((allowed == target).any()):
            raise DataError(
                f"the text leaves {what} at token {j} ({tokenizer.token_str(target)!r}); explain a text the "
                "constraint allows, or leave the constraint out."
            )
        steps.append((allowed, state.complete, False))
        state = automaton.move(state, target)
    if ends:
        raise DataError(f"the name does not match {what}; explain a name the constraint allows.")
    steps.append(state.complete)  # whether the whole text is a match
    return steps


def explain_chat(
    model, tokenizer, messages, top_k: int = 5, max_context: int | None = None, progress: bool = False
) -> dict:
    """``explain`` of a conversation through the chat template, with the loss mask (see the module docstring)."""
    rendered = render_chat(tokenizer, messages)
    return explain_ids(
        model, tokenizer, rendered.ids, top_k, max_context, counted=rendered.counted[1:], progress=progress
    )


def explain_ids(
    model,
    tokenizer,
    ids,
    top_k: int = 5,
    max_context: int | None = None,
    counted: list[bool] | None = None,
    progress: bool = False,
    constrained: list | None = None,
) -> dict:
    """``explain`` of token ids; ``counted[i]``: whether the target of position i counts (adds
    ``counts`` to every row and ``response_loss`` / ``counted_targets`` to the totals);
    ``constrained``: ``_constraint_steps`` of the ids (adds ``removed`` and ``p_constrained``)."""
    ids = [int(i) for i in ids]
    if len(ids) < 2:
        raise DataError(
            f"the text encodes to {len(ids)} token{'s' if len(ids) != 1 else ''}; explain needs at "
            "least two (a context and a token to predict), so give a longer text."
        )
    names: dict[int, str] = {}

    def name(i: int) -> str:
        if i not in names:
            names[i] = tokenizer.token_str(i)
        return names[i]

    tokens: list[dict] = []
    was_training = model.training
    model.eval()
    bar = task("explaining", len(ids) - 1, enabled=progress)
    try:
        block = min(max_context or model.config.block_size, model.config.block_size)
        for logits in _logit_chunks(model, ids, block):
            bar.advance(logits.size(0))
            k = max(0, min(int(top_k), logits.size(-1)))
            start = len(tokens)
            s = _row_stats(logits, ids[start + 1 : start + 1 + logits.size(0)], k)
            if constrained is not None:
                s["kept"] = _kept_mass(logits, constrained[start : start + logits.size(0)])
            for r in range(logits.size(0)):
                pos = start + r
                tokens.append(
                    {
                        "position": pos,
                        "context": name(ids[pos]),
                        "target": name(ids[pos + 1]),
                        "p_target": s["p"][r],
                        "loss": s["loss"][r],
                        "rank": int(s["rank"][r]),
                        "top_k": [[name(i), p] for i, p in zip(s["top_i"][r], s["top_p"][r])],
                        "grad_target": s["p"][r] - 1.0,
                        "grad_row_sum": s["row_sum"][r],
                    }
                )
                if constrained is not None:
                    _add_constraint(tokens[-1], s["kept"][r], constrained[pos])
    finally:
        bar.close()
        model.train(was_training)
    total = math.fsum(row["loss"] for row in tokens)
    n_bytes = sum(len(tokenizer.token_bytes(i)) for i in ids[1:])
    mean = total / len(tokens)
    result = {
        "tokens": tokens,
        "mean_loss": mean,
        "perplexity": perplexity(mean),
        "bits_per_byte": total / math.log(2) / max(n_bytes, 1),
    }
    if constrained is not None:
        last = constrained[-1]
        result["match"] = last if isinstance(last, bool) else last[2]
    if counted is not None:
        for row, counts in zip(tokens, counted):
            row["counts"] = bool(counts)
        losses = [row["loss"] for row in tokens if row["counts"]]
        result["response_loss"] = math.fsum(losses) / len(losses) if losses else float("nan")
        result["counted_targets"] = len(losses)
    return result


def add_stage_view(
    result: dict, *, advantage: float | None = None, reference: dict | None = None, beta: float = 0.1
) -> dict:
    """What a step of RL or DPO does to each counted token of a chat explanation (``explain_chat``):

    - ``advantage`` A (RL): every reply token gets ``push`` = A·(1 − P(target)), the size of its
      policy-gradient step on its own logit (∂L/∂z_target = −(A/n)(1 − P), n the batch's generated
      tokens): positive, the token is made likelier; a token already near-certain barely moves;
    - ``reference`` (DPO): the same conversation explained under the reference model; every reply
      token gets ``dpo`` = β (ln P − ln P_ref), its share of the reply's implicit reward, and the
      result ``implicit_reward``, their sum (β (log π(y) − log π_ref(y))).

    Rows whose target does not count get neither.  Returns ``result``, changed."""
    rows = result["tokens"]
    if reference is not None and len(reference["tokens"]) != len(rows):
        raise DataError("the reference explanation has other tokens; explain the same conversation with both runs.")
    for i, row in enumerate(rows):
        if not row.get("counts"):
            continue
        if advantage is not None:
            row["push"] = advantage * (1.0 - row["p_target"])
        if reference is not None:
            row["dpo"] = beta * (reference["tokens"][i]["loss"] - row["loss"])
    if reference is not None:
        result["implicit_reward"] = math.fsum(row.get("dpo", 0.0) for row in rows)
    if advantage is not None:
        result["advantage"] = advantage
    return result


def _kept_mass(logits: torch.Tensor, steps: list) -> list[float]:
    """For each row, the probability of the tokens the constraint allows there (float64)."""
    probs = torch.softmax(logits.float().cpu().double(), dim=-1)
    return [float(probs[r, step[0]].sum()) if isinstance(step, tuple) else 1.0 for r, step in enumerate(steps)]


def _add_constraint(row: dict, kept: float, step: tuple) -> None:
    """``removed`` and ``p_constrained`` of one row: masked mass goes to the end choice when the
    text so far is a whole match, else it is renormalised away."""
    _, complete, is_end = step
    row["removed"] = max(0.0, 1.0 - kept)
    if is_end:
        row["p_constrained"] = row["removed"]  # the end's probability is the masked mass
    elif complete:
        row["p_constrained"] = row["p_target"]
    else:
        row["p_constrained"] = row["p_target"] / kept if kept > 0 else 0.0


# ---- the terminal table ----------------------------------------------------------------------
#: loss as a fraction of ln(V) (uniform guessing) -> style; the last one is "worse than guessing"
LOSS_STYLES = ((0.1, "green"), (0.35, "yellow"), (0.7, "dark_orange"), (1.0, "red"), (math.inf, "bold red"))
ROW_SUM_TOL = 1e-6


def loss_style(loss: float, vocab_size: int | None = None) -> str:
    """Colour of a loss: relative to ln(V) when the vocabulary size is known, else to ln(65)."""
    scale = math.log(vocab_size) if vocab_size and vocab_size > 1 else math.log(65)
    for limit, style in LOSS_STYLES:
        if loss <= limit * scale:
            return style
    return LOSS_STYLES[-1][1]


#: console widths below which the table drops columns, widest first: the wrong-token gradients
#: and the row-sum check below 80 columns, the top-k list and the target's gradient below 60
FULL_WIDTH, NARROW_WIDTH = 80, 60


def render(result: dict, vocab_size: int | None = None, console=None, grad_top: int = 2, wide: bool = False) -> None:
    """Print ``result`` of ``explain`` as a rich table, one row per predicted token, rows
    coloured by loss (green: confident and right … bold red: worse than uniform guessing).
    The table fits the console's width by leaving out columns (see ``FULL_WIDTH``); ``wide``
    shows every column on one line each, however wide."""
    console = console or stdout_console()
    if wide:
        console.width = max(console.width, 200)
    width = console.width
    full, some = width >= FULL_WIDTH, width >= NARROW_WIDTH
    sums_ok = all(abs(row["grad_row_sum"]) < ROW_SUM_TOL for row in result["tokens"])
    caption = (
        "␣ = space · loss = −ln P(target) · rank 1 = most likely"
        + (" · ∂L/∂z = p − onehot(target): ∂L/∂z_t = P − 1 for the target" if some else "")
        + (", +∂L/∂z = the largest positive entries (the likeliest wrong tokens), Σ = 0 checked" if full else "")
        + " · colour = loss vs ln V: green < 0.1, yellow < 0.35, orange < 0.7, red < 1, bold red worse "
        "than guessing"
    )
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="What the model predicted at each position",
        title_justify="left",
        caption_justify="left",
        caption=caption,
    )
    table.add_column("pos", justify="right", style="dim", no_wrap=True)
    table.add_column("ctx", no_wrap=True)
    table.add_column("target", no_wrap=True)
    table.add_column("P", justify="right", no_wrap=True, min_width=4)
    table.add_column("loss", justify="right", no_wrap=True)
    table.add_column("rank", justify="right", no_wrap=True)
    if some:
        table.add_column("∂L/∂z_t", justify="right", no_wrap=True)
    if full:
        table.add_column("+∂L/∂z", min_width=8, no_wrap=wide)
        table.add_column("Σ", justify="center", no_wrap=True)
    if some:
        table.add_column("top-k", min_width=8, no_wrap=wide)
    chat = "counted_targets" in result
    if chat:
        table.add_column("counts", justify="center", no_wrap=True)
    constrained = "match" in result
    if constrained:
        table.add_column("cut", justify="right", no_wrap=True)
        table.add_column("P|c", justify="right", no_wrap=True)
    stage = "push" if "advantage" in result else "dpo" if "implicit_reward" in result else ""
    if stage:
        table.add_column("A·(1−P)" if stage == "push" else "β·Δln P", justify="right", no_wrap=True)
    for row in result["tokens"]:
        masked = not row.get("counts", True)  # its target is -1 in training: no loss, no gradient
        style = "dim" if masked else loss_style(row["loss"], vocab_size)
        cells = [
            str(row["position"]),
            escape(_q(row["context"])),
            f"[{style}]{escape(_q(row['target']))}[/]",
            _p(row["p_target"]),
            f"[{style}]{row['loss']:.3f}[/]",
            str(row["rank"]),
        ]
        if some:
            cells.append("[dim]masked[/]" if masked else f"{row['grad_target']:+.3f}")
        if full:
            wrong = [(t, p) for t, p in row["top_k"] if t != row["target"]][:grad_top]
            cells.append("" if masked else " ".join(f"{escape(_q(t))}[dim]:+{_p(p)}[/]" for t, p in wrong))
            cells.append(
                "[green]✓[/]" if abs(row["grad_row_sum"]) < ROW_SUM_TOL else f"[red]{row['grad_row_sum']:.0e}[/]"
            )
        if some:
            cells.append(" ".join(f"{escape(_q(t))}[dim]:{_p(p)}[/]" for t, p in row["top_k"]))
        if chat:
            cells.append("[green]✓[/]" if row["counts"] else "[dim]·[/]")
        if constrained:
            cells += [_p(row["removed"]), _p(row["p_constrained"])]
        if stage:
            cells.append(_signed(row.get(stage)))
        if stage and stage in row:  # the reply's tokens coloured by what the step does to them
            cells[2] = f"[{'green' if row[stage] > 0 else 'red'}]{escape(_q(row['target']))}[/]"
        table.add_row(*cells)
    console.print(table)
    if chat:
        console.print(
            f"response loss [bold]{result['response_loss']:.4f}[/] nats over the "
            f"{result['counted_targets']} counted targets (✓: assistant text and <|assistant_end|>; "
            "rows marked · are masked: target −1, no loss, no gradient)"
        )
    if stage == "push":
        console.print(
            f"advantage A = {result['advantage']:+.3f}: each reply token's logit moves by −(A/n)(1 − P) (n: the "
            "batch's generated tokens); green targets are made likelier, red ones less likely"
        )
    elif stage == "dpo":
        console.print(
            f"implicit reward β(log π − log π_ref) of the reply [bold]{result['implicit_reward']:+.4f}[/], token by "
            "token in β·Δln P: green where the model made the token likelier than the reference, red where less"
        )
    if constrained:
        console.print(
            "cut = the probability the constraint removed at that position (masked to −inf; once the text "
            "is a whole match it becomes the choice to end) · P|c = the target's probability under the "
            f"constraint · the text {'is' if result['match'] else 'is not yet'} a whole match"
        )
    check = (
        "" if full else (" · every ∂L/∂z row sums to 0 ✓" if sums_ok else " · [red]a ∂L/∂z row does not sum to 0[/]")
    )
    console.print(
        f"mean loss [bold]{result['mean_loss']:.4f}[/] nats · perplexity [bold]{result['perplexity']:.3f}[/]"
        f" · bits per byte [bold]{result['bits_per_byte']:.4f}[/] · {len(result['tokens'])} predictions" + check
    )


def _signed(x: float | None) -> str:
    return "" if x is None else f"[{'green' if x > 0 else 'red'}]{x:+.3f}[/]"


def _p(p: float) -> str:
    """A probability in 4 characters: .042, 1.00"""
    return f"{p:.3f}"[1:] if p < 0.9995 else "1.00"


def _q(token: str) -> str:
    """A token for the table: spaces shown as ␣ (so they are visible and never wrap), empty as ∅."""
    return printable(token).replace(" ", "␣") if token else "∅"
