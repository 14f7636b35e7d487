"""Text as training data: the user's file or folder, a built-in corpus, or packed documents,
encoded once into the run's token cache.

A new run reads the text ``[data]`` names (``data.documents``: several files or a JSONL
field are packed as documents with ``<|endoftext|>`` between them), builds the tokenizer
``data.tokenizer`` asks for (a trained one, ``bpe``, learns from the training part only),
encodes it and splits off the last ``data.val_fraction`` of the tokens as validation.  The
token cache (``data/train.bin``, ``val.bin``, ``meta.json``: ``data.tokens``) is what
resuming, ``glassgpt eval`` and the other ranks of a distributed run read again; training
windows are drawn at seeded random offsets (``data.loader.BatchLoader``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glassgpt.config import RunConfig
from glassgpt.data.documents import load_training_text
from glassgpt.data.loader import BatchLoader
from glassgpt.data.source import Batches
from glassgpt.data.token_stream import TokenStream
from glassgpt.data.tokens import open_split, read_meta, write_splits
from glassgpt.tokenizers import Tokenizer
from glassgpt.tokenizers.spec import build_tokenizer


class TextSource(TokenStream):
    kind = "text"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, train: np.ndarray, val: np.ndarray, meta: dict):
        super().__init__(cfg, tokenizer, train, val, describe(cfg, meta))
        self.meta = meta

    @classmethod
    def build(cls, cfg: RunConfig, text: str | None = None) -> TextSource:
        """A new run's text (``text``, when given, replaces what ``[data]`` names), encoded."""
        d = cfg.data
        training = load_training_text(d, text)  # packed documents get <|endoftext|>
        train_text = training.text
        if d.tokenizer == "bpe":  # trained on the training split only
            train_text = train_text[: len(train_text) - int(len(train_text) * d.val_fraction)]
        tokenizer = training.adapt(build_tokenizer(d.tokenizer, train_text, d.vocab_size or None))
        for prompt in cfg.train.sample_prompts:  # a prompt the vocabulary cannot encode fails now
            tokenizer.encode(prompt)
        train, val, meta = training.encode_splits(tokenizer, d.val_fraction, cfg.seq_len + 1)
        return cls(cfg, tokenizer, train, val, meta)

    @classmethod
    def reopen(cls, cfg: RunConfig, tokenizer: Tokenizer, data_dir: Path) -> TextSource:
        """The token cache a run wrote (memory-mapped)."""
        meta = read_meta(data_dir)
        return cls(cfg, tokenizer, open_split(data_dir, "train"), open_split(data_dir, "val"), meta)

    @classmethod
    def from_shared(cls, cfg: RunConfig, tokenizer: Tokenizer, arrays: list[np.ndarray], meta: dict) -> TextSource:
        """What rank 0 sent the other ranks of a distributed run."""
        return cls(cfg, tokenizer, arrays[0], arrays[1], meta)

    def loader(self, seed: int, rank: int, world_size: int) -> Batches:
        return BatchLoader(self.train_tokens, self.seq_len, seed, rank, world_size)

    def save(self, data_dir: Path) -> None:
        write_splits(data_dir, self.train_tokens, self.val_tokens, self.meta)

    def data_bytes(self) -> int:
        return (len(self.train_tokens) + len(self.val_tokens)) * np.dtype(self.meta["dtype"]).itemsize

    def shared(self) -> list[np.ndarray]:
        return [np.asarray(self.train_tokens), np.asarray(self.val_tokens)]


def describe(cfg: RunConfig, meta: dict) -> str:
    """The header's data line: where the text came from and how it split."""
    d = cfg.data
    source = d.path or (f"{len(d.files)} files" if d.files else "") or d.corpus or "the given text"
    train, val = meta.get("train_tokens", 0), meta.get("val_tokens", 0)
    split = f"{train:,} train + {val:,} val tokens" if val else f"{train:,} tokens, no validation split"
    chars = f"{meta['text_chars']:,} characters → " if "text_chars" in meta else ""
    docs = f"{meta['documents']:,} documents, " if "documents" in meta else ""
    return f"{source}: {docs}{chars}{split}"
