"""Supervised fine-tuning: continue a trained run on conversations, counting the replies only.

``finetune(source_run, sft_file, out)`` (``glassgpt finetune RUN --sft FILE.jsonl --out NEW_RUN``):

1. reads and checks everything first (the conversations, the run, the tokenizer, every
   conversation against the context), so bad input costs nothing;
2. adds the chat tokens to the run's tokenizer (``tokenizers.chat``) and grows the
   embedding (and an untied head) for them (``grow``: the mean of the existing rows plus
   small seeded noise);
3. holds out ``val_fraction`` of the conversations (a seeded choice) and packs the rest
   best fit into padded rows of the trained context (``batches``);
4. trains a NEW run directory (kind ``chat``) through the ordinary trainer, its data a
   ``ConversationSource`` (fresh AdamW, its own schedule, checkpoints, metrics; the run keeps
   its conversations, so ``glassgpt train --out NEW_RUN --resume`` continues it exactly).
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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from glassgpt.config import RunConfig, validate
from glassgpt.config.resolve import load_run_config
from glassgpt.data.conversation_rows import OVERFLOW
from glassgpt.data.conversation_source import ConversationSource, file_fingerprint
from glassgpt.data.conversations import Conversation, conversations_path, read_conversations
from glassgpt.data.source import measure
from glassgpt.errors import ConfigError, RunDirError, TokenizerError
from glassgpt.fileio import write_json
from glassgpt.generation.sampling import generate
from glassgpt.generation.tools import text_of, tool_rows
from glassgpt.models.from_run import load_run_tokenizer, load_weights
from glassgpt.rundir import check_new, kinds
from glassgpt.rundir.layout import FINETUNE
from glassgpt.stages.grow import NOISE, grow_vocabulary
from glassgpt.stages.lora import Lora, with_lora
from glassgpt.tokenizers import Tokenizer, add_special_tokens
from glassgpt.tokenizers.chat_template import CHAT_SPECIALS, TOOL_SPECIALS, render, role_tokens, uses_tools
from glassgpt.training.launch import build_trainer

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


def chat_tokenizer(tokenizer: Tokenizer, tools: bool = False) -> Tokenizer:
    """The run's tokenizer with the chat tokens added (and the tool tokens after them when
    ``tools``: the conversations call the calculator); TokenizerError when it cannot hold them."""
    if tokenizer.type == "word":
        raise TokenizerError(
            "this run uses the word tokenizer, whose closed vocabulary cannot encode free "
            "conversation text; fine-tune a char, byte or BPE run."
        )
    try:
        return add_special_tokens(tokenizer, CHAT_SPECIALS + (TOOL_SPECIALS if tools else ()))
    except TokenizerError as exc:
        raise TokenizerError(f"this run's tokenizer cannot hold the chat tokens: {exc}") from None


def finetune_config(
    stored: RunConfig,
    sft_file: Path,
    *,
    overflow: str,
    max_steps: int,
    lr: float,
    batch_size: int,
    warmup_steps: int,
    eval_every: int,
    val_fraction: float,
    seed: int,
    time_budget: float,
    device: str = "auto",
    threads: int = 0,
) -> RunConfig:
    """The fine-tune's configuration: the source run's model, the conversations as its data,
    and the fine-tune's own training settings (the device and threads of this machine, not
    the source run's)."""
    t = stored.train
    train = dataclasses.replace(
        t,
        max_steps=max_steps,
        lr=lr,
        batch_size=batch_size,
        grad_accum=1,
        tokens_per_step=0,
        warmup_steps=min(warmup_steps, max_steps),
        eval_every=eval_every,
        seed=seed,
        time_budget=time_budget,
        decay_steps=0,
        sample_every=0,
        sample_prompts=(),
        sample_tokens=0,
        engine="torch",
        objective="lm",  # a run after fine-tuning (RL, DPO) is fine-tuned again on the language-model loss
        doc_mask=False,
        save_every=max(1, min(t.save_every, max_steps)),
        schedule_clock="steps" if not time_budget else t.schedule_clock,
        device=device,
        threads=threads,
    )
    data = dataclasses.replace(
        stored.data,
        kind="conversations",
        corpus="",
        path=str(sft_file),
        files=(),
        jsonl_field="",
        fingerprint="",
        task="",
        reward_model="",
        val_fraction=val_fraction,
        overflow=overflow,
    )
    return validate(dataclasses.replace(stored, data=data, train=train, kind="chat", resumes=()))


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
    device: str = "auto",
    threads: int = 0,
    lora: Lora | None = None,
) -> FinetuneResult:
    """Fine-tune the run ``source`` on the conversations in ``sft_file`` into the new run ``out``
    (see the module docstring).  ``log`` receives progress lines (counts, losses); ``device``
    and ``threads``: where and on how many CPU threads it trains (auto, and 0: glassgpt chooses)."""
    log = log or (lambda line: None)
    if overflow not in OVERFLOW:
        raise ConfigError(f"--overflow must be error or truncate, not {overflow!r}.")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"--val-fraction must be in [0, 1), got {val_fraction}.")
    sft_file = conversations_path(sft_file)
    kinds.require(source, "finetune")
    src = Path(source)
    out = Path(out)
    if out.resolve() == src.resolve():
        raise RunDirError("--out must be a new run directory; fine-tuning never changes the source run.")
    check_new(out, overwrite, "finetune")  # now, not after the data is read (and with finetune's own advice)
    stored = load_run_config(src)
    seed = stored.train.seed if seed is None else seed
    cfg = finetune_config(
        stored,
        sft_file,
        overflow=overflow,
        max_steps=max_steps,
        lr=lr,
        batch_size=batch_size,
        warmup_steps=warmup_steps,
        eval_every=eval_every,
        val_fraction=val_fraction,
        seed=seed,
        time_budget=time_budget,
        device=device,
        threads=threads,
    )
    tools = any(uses_tools(c.messages) for c in read_conversations(sft_file))
    tokenizer = chat_tokenizer(load_run_tokenizer(src), tools)
    conversations = ConversationSource.build(cfg, tokenizer)
    counts = conversations.counts
    _log_counts(log, counts, cfg.seq_len)
    _, weights = grow_vocabulary(stored.model, load_weights(src), tokenizer.vocab_size, seed)
    added = tokenizer.vocab_size - stored.model.vocab_size
    cfg, weights = with_lora(cfg, weights, lora, seed, added)  # --lora: adapters and the added rows train
    trainer = build_trainer(
        out, config=cfg, overwrite=overwrite, progress=progress, source=conversations, weights=weights
    )
    sums = trainer.engine.eval_sums
    held_out = conversations.final_sets()[0]
    train_set = conversations.eval_set("train")
    before = {"val": measure(sums, held_out), "train": measure(sums, train_set)}
    record = {
        "source": str(src),
        "sft_file": str(sft_file),
        "sft_sha256_16": file_fingerprint(sft_file),
        "overflow": overflow,
        "context": cfg.seq_len,
        "counts": counts,
        "special_tokens": {s: tokenizer.special_tokens[s] for s in CHAT_SPECIALS},
        "init": f"new embedding/head rows = mean of the existing rows + N(0, ({NOISE}·std of their entries)²), "
        f"seed {seed}",
        "before": before,
    }
    write_json(out / FINETUNE, record)
    log(f"response loss before: held-out {before['val']['loss']:.4f}, training {before['train']['loss']:.4f}")
    result = trainer.run()
    after = {"val": {k: v for k, v in result.final.items() if k != "split"}, "train": measure(sums, train_set)}
    log(f"response loss after:  held-out {after['val']['loss']:.4f}, training {after['train']['loss']:.4f}")
    held = conversations.held_out or conversations.train_conversations
    lines = transcript_of(trainer.engine.sampling_model(), tokenizer, held, transcript, cfg.seq_len)
    write_json(
        out / FINETUNE,
        {**record, "after": after, "steps": result.steps, "stopped_by": result.stopped_by, "transcript": lines},
    )
    return FinetuneResult(result.run_dir, result.steps, result.stopped_by, before, after, counts, lines)


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


def transcript_of(model, tokenizer: Tokenizer, conversations: list[Conversation], n: int, context: int) -> list[dict]:
    """The first ``n`` conversations answered greedily: the messages before the last assistant
    message are the prompt, then the model writes until ``<|assistant_end|>`` (running its
    tool calls, when it has the tool tokens; ``reply`` is then the text without them)."""
    end = role_tokens(tokenizer)["assistant"][1]
    tools = tool_rows(tokenizer)
    lines = []
    for conv in conversations[:n]:
        last = max(i for i, m in enumerate(conv.messages) if m["role"] == "assistant")
        prompt = render(tokenizer, conv.messages[:last], add_generation_start=True).ids
        new = generate(model, prompt, context, temperature=0.0, stop_ids=(end,), max_context=context, steer=tools)[0]
        reply = text_of(tokenizer, [i for i in new if i != end])
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
