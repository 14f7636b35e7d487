"""Supervised fine-tuning: continue a trained run on conversations, counting the replies only.

``finetune(source_run, sft_file, out)`` (``glassgpt finetune RUN --sft FILE.jsonl --out NEW_RUN``):

1. reads and checks everything first (the conversations, the run, the tokenizer, every
   conversation against the context), so bad input costs nothing;
2. adds the chat tokens to the run's tokenizer (``tokenizers.chat``) and grows the
   embedding (and an untied head) for them (``grow``: the mean of the existing rows plus
   small seeded noise);
3. holds out ``val_fraction`` of the conversations (a seeded choice) and packs the rest
   best fit into padded rows of the trained context (``batches``);
4. trains a NEW run directory through the ordinary ``Trainer`` (``PreparedData``: fresh
   AdamW, its own schedule, checkpoints, metrics, exact resume of the batch sequence).
   The source run is only ever read.

The loss is the mean over counted targets (assistant content and ``<|assistant_end|>``):
the *response loss*.  It is measured on the held-out and the training conversations
before training (with the grown vocabulary) and after; both, the counts of truncated or
dropped conversations and a short transcript of held-out questions answered greedily are
written to ``NEW_RUN/finetune.json``.

Word-level runs are refused: their closed vocabulary cannot encode free text (every
unseen word is an error), so they cannot hold a conversation.  A BPE tokenizer whose own
special tokens overlap the chat tokens (one inside another) is refused too.  A vocabulary
that grows past 65,536 ids is fine (token files switch to uint32; rows are held in memory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glassgpt import rundir
from glassgpt.config import validate
from glassgpt.data.conversations import Conversation, conversations_path, read_conversations
from glassgpt.errors import ConfigError, RunDirError, TokenizerError
from glassgpt.evaluation import token_byte_lengths
from glassgpt.fileio import write_json
from glassgpt.finetune.batches import OVERFLOW, SFTBatches, encode_conversations, eval_batches
from glassgpt.finetune.grow import NOISE, grow_vocabulary
from glassgpt.rundir.layout import FINETUNE
from glassgpt.runs import load_config, load_run_tokenizer, load_weights
from glassgpt.sample import generate
from glassgpt.tokenizers import Tokenizer, add_special_tokens
from glassgpt.tokenizers.chat import CHAT_SPECIALS, render, role_tokens
from glassgpt.training.prepared import BatchEvalSet, PreparedData
from glassgpt.training.trainer import Trainer

#: training settings of a fine-tune unless the caller gives others
DEFAULTS = {
    "max_steps": 150,
    "lr": 5e-4,
    "warmup_steps": 20,
    "eval_every": 25,
    "batch_size": 16,
    "val_fraction": 0.1,
    "transcript": 5,
}


@dataclass
class FinetuneResult:
    run_dir: Path
    steps: int
    stopped_by: str
    before: dict  # response loss before training: {"val": {...}, "train": {...}}
    after: dict  # the same after training
    counts: dict  # conversations used, truncated, dropped (train and val)
    transcript: list[dict] = field(default_factory=list)  # held-out questions, expected and generated replies


def chat_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """The run's tokenizer with the chat tokens added; TokenizerError when it cannot hold them."""
    if tokenizer.type == "word":
        raise TokenizerError(
            "this run uses the word tokenizer, whose closed vocabulary cannot encode free "
            "conversation text; fine-tune a char, byte or BPE run."
        )
    try:
        return add_special_tokens(tokenizer, CHAT_SPECIALS)
    except TokenizerError as exc:
        raise TokenizerError(f"this run's tokenizer cannot hold the chat tokens: {exc}") from None


def split_conversations(conversations: list[Conversation], val_fraction: float, seed: int):
    """(train, held out): a seeded choice of round(n · val_fraction) conversations, at least one
    when the fraction is positive and there are two or more; both keep file order."""
    n = len(conversations)
    n_val = 0 if val_fraction <= 0 or n < 2 else min(n - 1, max(1, round(n * val_fraction)))
    held = set(np.random.default_rng(seed).permutation(n)[:n_val].tolist())
    return (
        [c for i, c in enumerate(conversations) if i not in held],
        [c for i, c in enumerate(conversations) if i in held],
    )


def finetune(
    source: str | Path,
    sft_file: str | Path,
    out: str | Path,
    *,
    overflow: str = "error",
    max_steps: int = DEFAULTS["max_steps"],
    lr: float = DEFAULTS["lr"],
    batch_size: int = DEFAULTS["batch_size"],
    warmup_steps: int = DEFAULTS["warmup_steps"],
    eval_every: int = DEFAULTS["eval_every"],
    val_fraction: float = DEFAULTS["val_fraction"],
    seed: int | None = None,
    time_budget: float = 0.0,
    overwrite: bool = False,
    progress: bool = False,
    transcript: int = DEFAULTS["transcript"],
    log: Callable[[str], None] | None = None,
) -> FinetuneResult:
    """Fine-tune the run ``source`` on the conversations in ``sft_file`` into the new run ``out``
    (see the module docstring).  ``log`` receives progress lines (counts, losses)."""
    log = log or (lambda line: None)
    sft_file = conversations_path(sft_file)
    src = rundir.require_run(source)
    out = Path(out)
    if out.resolve() == src.resolve():
        raise RunDirError("--out must be a new run directory; fine-tuning never changes the source run.")
    if overflow not in OVERFLOW:
        raise ConfigError(f"--overflow must be error or truncate, not {overflow!r}.")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"--val-fraction must be in [0, 1), got {val_fraction}.")
    cfg = load_config(src)
    if cfg.model.ensemble > 1:
        raise ConfigError(
            f"{src} is an ensemble of {cfg.model.ensemble} GPTs; fine-tuning grows the vocabulary of one GPT."
        )
    seed = cfg.train.seed if seed is None else seed
    _set_training(cfg, sft_file, max_steps, lr, batch_size, warmup_steps, eval_every, seed, time_budget)
    tokenizer = chat_tokenizer(load_run_tokenizer(src))
    context = min(cfg.train.seq_len or cfg.model.block_size, cfg.model.block_size)
    conversations = read_conversations(sft_file)
    train_convs, val_convs = split_conversations(conversations, val_fraction, seed)
    train_set = encode_conversations(train_convs, tokenizer, context, overflow, str(sft_file))
    val_set = encode_conversations(val_convs, tokenizer, context, overflow, str(sft_file))
    counts = {"train": train_set.report, "val": val_set.report}
    _log_counts(log, counts, context)
    model_cfg, weights = grow_vocabulary(cfg.model, load_weights(src), tokenizer.vocab_size, seed)
    cfg.model = model_cfg
    validate(cfg)
    byte_lengths = token_byte_lengths(tokenizer)
    byte_lengths[list(tokenizer.special_tokens.values())] = 0  # bits per byte of the reply text: specials are not text
    train_eval = BatchEvalSet(eval_batches(train_set.examples, context, batch_size), byte_lengths)
    held_out = val_set.examples or train_set.examples
    prepared = PreparedData(
        tokenizer,
        SFTBatches(train_set.examples, context, seed),
        BatchEvalSet(eval_batches(held_out, context, batch_size), byte_lengths),
        split="val" if val_set.examples else "train",
        weights=weights,
    )
    trainer = Trainer(cfg, out, overwrite=overwrite, progress=progress, prepared=prepared)
    before = {
        "val": prepared.eval.evaluate(trainer.engine.eval_sums),
        "train": train_eval.evaluate(trainer.engine.eval_sums),
    }
    record = {
        "source": str(src),
        "sft_file": str(sft_file),
        "sft_sha256_16": _fingerprint(sft_file),
        "overflow": overflow,
        "context": context,
        "counts": counts,
        "special_tokens": {s: tokenizer.special_tokens[s] for s in CHAT_SPECIALS},
        "init": f"new embedding/head rows = mean of the existing rows + N(0, ({NOISE}·std of their entries)²), "
        f"seed {seed}",
        "before": before,
    }
    write_json(out / FINETUNE, record)
    log(f"response loss before: held-out {before['val']['loss']:.4f}, training {before['train']['loss']:.4f}")
    result = trainer.run()
    after = {
        "val": {k: v for k, v in result.final.items() if k != "split"},
        "train": train_eval.evaluate(trainer.engine.eval_sums),
    }
    log(f"response loss after:  held-out {after['val']['loss']:.4f}, training {after['train']['loss']:.4f}")
    lines = transcript_of(trainer.engine.sampling_model(), tokenizer, val_convs or train_convs, transcript, context)
    write_json(
        out / FINETUNE,
        {**record, "after": after, "steps": result.steps, "stopped_by": result.stopped_by, "transcript": lines},
    )
    return FinetuneResult(result.run_dir, result.steps, result.stopped_by, before, after, counts, lines)


def _set_training(cfg, sft_file, max_steps, lr, batch_size, warmup_steps, eval_every, seed, time_budget) -> None:
    """The fine-tune's own training settings (the source's model settings are kept)."""
    t = cfg.train
    t.max_steps, t.lr, t.batch_size, t.grad_accum = max_steps, lr, batch_size, 1
    t.warmup_steps, t.eval_every, t.seed, t.time_budget = min(warmup_steps, max_steps), eval_every, seed, time_budget
    t.decay_steps, t.sample_every, t.sample_prompts, t.sample_tokens = 0, 0, [], 0
    t.engine, t.doc_mask, t.save_every = "torch", False, max(1, min(t.save_every, max_steps))
    cfg.data.corpus, cfg.data.path, cfg.data.files, cfg.data.jsonl_field = "", str(sft_file), [], ""
    validate(cfg)


def _log_counts(log, counts: dict, context: int) -> None:
    for split, c in counts.items():
        note = ""
        if c["truncated"] or c["dropped"]:
            note = (
                f"; {c['truncated']} longer than the context of {context} tokens were truncated, "
                f"{c['dropped']} dropped (no reply token left)"
            )
        log(
            f"{split}: {c['conversations']} conversations, {c['counted_targets']} counted targets of "
            f"{c['positions']} positions{note}"
        )


def _fingerprint(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def transcript_of(model, tokenizer: Tokenizer, conversations: list[Conversation], n: int, context: int) -> list[dict]:
    """The first ``n`` conversations answered greedily: the messages before the last assistant
    message are the prompt, then the model writes until ``<|assistant_end|>``."""
    end = role_tokens(tokenizer)["assistant"][1]
    lines = []
    for conv in conversations[:n]:
        last = max(i for i, m in enumerate(conv.messages) if m["role"] == "assistant")
        prompt = render(tokenizer, conv.messages[:last], add_generation_start=True).ids
        new = generate(model, prompt, context, temperature=0.0, stop_ids=(end,), max_context=context)[0]
        reply = tokenizer.decode([i for i in new if i != end])
        user = next((m["content"] for m in reversed(conv.messages[:last]) if m["role"] == "user"), "")
        lines.append(
            {
                "user": user,
                "expected": conv.messages[last]["content"],
                "reply": reply,
                "finished": bool(new) and new[-1] == end,
            }
        )
    return lines
