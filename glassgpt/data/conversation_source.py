"""Conversations as training data: supervised fine-tuning, the loss on the replies only.

The conversations (JSONL, ``data.conversations``) are encoded with the chat template and
checked against the context (``data.conversation_rows``: a conversation longer than the
context is refused, or cut with ``data.overflow = "truncate"``).  ``data.val_fraction`` of
them, a choice seeded by ``train.seed``, are held out; the rest are packed best fit into
rows of the context, reshuffled every epoch (``SFTBatches``).  The periodic estimate is the
first ``train.eval_batches`` batches of the held-out conversations, the final evaluation all
of them (the training conversations when none are held out).  Bits per byte count the text
of the replies: the chat tokens are 0 bytes.

A new run keeps the file as ``data/conversations.jsonl``, so it resumes (``glassgpt train
--out RUN --resume``) and evaluates without the original.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from glassgpt.config import DataFacts, RunConfig
from glassgpt.data.conversation_rows import EncodedSet, SFTBatches, encode_conversations, eval_batches
from glassgpt.data.conversations import Conversation, conversations_path, read_conversations
from glassgpt.data.source import Batches, EvalSet, fixed, token_byte_lengths
from glassgpt.fileio import atomic_write
from glassgpt.tokenizers import Tokenizer

#: the file a conversation run keeps in its data/ folder
CONVERSATIONS = "conversations.jsonl"


def split_conversations(
    conversations: list[Conversation], val_fraction: float, seed: int
) -> tuple[list[Conversation], list[Conversation]]:
    """(train, held out): a seeded choice of round(n · val_fraction) conversations, at least one
    when the fraction is positive and there are two or more; both keep file order."""
    n = len(conversations)
    n_val = 0 if val_fraction <= 0 or n < 2 else min(n - 1, max(1, round(n * val_fraction)))
    held = set(np.random.default_rng(seed).permutation(n)[:n_val].tolist())
    return (
        [c for i, c in enumerate(conversations) if i not in held],
        [c for i, c in enumerate(conversations) if i in held],
    )


def file_fingerprint(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


class ConversationSource:
    kind = "conversations"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, path: Path):
        self.cfg, self.tokenizer, self.path = cfg, tokenizer, Path(path)
        context = cfg.seq_len
        conversations = read_conversations(self.path)
        self.train_conversations, self.held_out = split_conversations(
            conversations, cfg.data.val_fraction, cfg.train.seed
        )
        source = str(cfg.data.path or self.path)
        self.train_set = encode_conversations(self.train_conversations, tokenizer, context, cfg.data.overflow, source)
        self.val_set = encode_conversations(self.held_out, tokenizer, context, cfg.data.overflow, source)
        self.byte_lengths = token_byte_lengths(tokenizer, text_only=True)
        self.notes: tuple[str, ...] = ()
        held = len(self.held_out)
        self.description = (
            f"{source}: {len(conversations):,} conversations, {len(self.train_conversations):,} to train on, "
            f"{held:,} held out" + ("" if held else " (the training ones are evaluated)")
        )

    @classmethod
    def build(cls, cfg: RunConfig, tokenizer: Tokenizer) -> ConversationSource:
        """The conversations in the file ``data.path`` names."""
        return cls(cfg, tokenizer, conversations_path(cfg.data.path))

    @classmethod
    def reopen(cls, cfg: RunConfig, tokenizer: Tokenizer, data_dir: Path) -> ConversationSource:
        return cls(cfg, tokenizer, data_dir / CONVERSATIONS)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return {"train": self.train_set.report, "val": self.val_set.report}

    def facts(self) -> DataFacts:
        return DataFacts(
            vocab_size=self.tokenizer.vocab_size, kind="conversations", fingerprint=file_fingerprint(self.path)
        )

    def batches(self, seed: int, rank: int = 0, world_size: int = 1) -> Batches:
        return SFTBatches(self.train_set.examples, self.cfg.seq_len, seed)

    def _set(self, name: str, encoded: EncodedSet) -> EvalSet:
        batches = eval_batches(encoded.examples, self.cfg.seq_len, self.cfg.train.batch_size)
        return fixed(name, list(batches), self.byte_lengths)

    def eval_set(self, split: str) -> EvalSet:
        """The held-out conversations (``"val"``) or the training ones (``"train"``)."""
        return self._set(split, self.val_set if split == "val" else self.train_set)

    def estimate_set(self) -> EvalSet:
        data = self.final_sets()[0]
        batches = list(data.batches())[: self.cfg.train.eval_batches]
        return fixed(data.name, batches, self.byte_lengths)

    def final_sets(self) -> list[EvalSet]:
        return [self.eval_set("val" if self.val_set.examples else "train")]

    def sample(self, model: Any, seed: int, progress: bool = False) -> list[tuple[str, str]]:
        """Nothing: a fine-tune records its transcript of held-out answers instead (``finetune.json``)."""
        return []

    def sample_seconds(self, model: Any, seed: int) -> float:
        return 0.0

    def save(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(data_dir / CONVERSATIONS, lambda tmp: shutil.copyfile(self.path, tmp))

    def data_bytes(self) -> int:
        return self.path.stat().st_size

    def shared(self) -> list[np.ndarray]:
        return []
