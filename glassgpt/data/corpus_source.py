"""A prepared corpus as training data: ``glassgpt train --data DIR`` where DIR holds ``index.json``.

A corpus written by ``glassgpt data prepare`` is read where it is, never copied into the
run: the training split streams through ``data.shards.ShardLoader`` (windows without
replacement, exact positions across shard ends, a one-number state, disjoint per rank) and
the evaluations read the validation split (the training split when the corpus has none)
through ``ShardedTokens``, the memory-mapped shards seen as one array.  Memory holds the
pages a batch touches, whatever the corpus's size.

The run's tokenizer is the corpus's: ``derive`` records the corpus's tokenizer spec in
``data.tokenizer`` (the ``gpt2`` preset's ``"prepared"`` asks for exactly that) and a
fingerprint of its ``index.json`` (shard names and token counts, tokenizer, settings and
inputs) in ``data.fingerprint``.  Opening the corpus again refuses one whose fingerprint
changed; a corpus moved elsewhere is the same data under its new path when its fingerprint
is the same (``same_corpus``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from glassgpt.config import DataConfig, DataFacts, RunConfig
from glassgpt.data.shards import PreparedCorpus, ShardLoader, open_prepared
from glassgpt.data.source import Batches
from glassgpt.data.token_stream import TokenStream
from glassgpt.errors import ConfigError, DataError

#: ``data.tokenizer`` of a preset that trains only on a prepared corpus (the corpus's tokenizer)
PREPARED = "prepared"
#: the one sentence for such a preset without a prepared corpus
NEEDS_CORPUS = (
    "the {preset} preset trains on a prepared corpus and its tokenizer: prepare one with "
    "`glassgpt data prepare --input FILES --tokenizer gpt2:r50k_base.tiktoken --out DIR` "
    "(or --tokenizer cl100k) and pass --data DIR."
)


def is_corpus(data: DataConfig) -> bool:
    """Whether ``data`` names a prepared corpus (a folder with index.json or an unfinished one)."""
    if data.kind == "corpus":
        return True
    if not data.path or data.files:
        return False
    path = Path(data.path)
    return path.is_dir() and ((path / "index.json").is_file() or (path / "progress.json").is_file())


def fingerprint(index: dict) -> str:
    """16 hex digits identifying a corpus: a hash of its whole ``index.json``."""
    return hashlib.sha256(json.dumps(index, sort_keys=True).encode()).hexdigest()[:16]


def open_corpus(data: DataConfig) -> PreparedCorpus:
    """The corpus ``data`` names; refuses one that moved away or whose fingerprint differs
    from ``data.fingerprint``."""
    if data.fingerprint and not (Path(data.path) / "index.json").is_file():
        raise DataError(
            f"the prepared corpus {data.path} this run trains on is not there any more; resume with "
            "--data DIR naming where it is now."
        )
    corpus = open_prepared(data.path)
    found = fingerprint(corpus.index)
    if data.fingerprint and data.fingerprint != found:
        raise DataError(
            f"the prepared corpus {data.path} has changed since this run started (fingerprint "
            f"{data.fingerprint}, now {found}); resume with the corpus the run was trained on."
        )
    return corpus


def same_corpus(stored: DataConfig, given: DataConfig) -> DataConfig | None:
    """``stored`` under the path ``given`` names, when that is the same corpus (same fingerprint)."""
    if not stored.fingerprint or stored.kind != "corpus" or not is_corpus(given):
        return None
    try:
        found = fingerprint(open_prepared(given.path).index)
    except DataError:
        return None
    return DataConfig(**{**stored.__dict__, "path": given.path}) if found == stored.fingerprint else None


class CorpusSource(TokenStream):
    kind = "corpus"

    def __init__(self, cfg: RunConfig, corpus: PreparedCorpus):
        splits = corpus.index["splits"]
        train, val = splits["train"]["tokens"], splits["val"]["tokens"]
        description = f"{cfg.data.path}: a prepared corpus, {train:,} train + {val:,} val tokens"
        super().__init__(cfg, corpus.tokenizer, corpus.split("train"), corpus.split("val"), description)
        self.corpus = corpus

    @classmethod
    def open(cls, cfg: RunConfig) -> CorpusSource:
        return cls(cfg, open_corpus(cfg.data))

    def facts(self) -> DataFacts:
        return DataFacts(
            vocab_size=self.tokenizer.vocab_size,
            kind="corpus",
            tokenizer=self.corpus.index["tokenizer"]["spec"],
            fingerprint=fingerprint(self.corpus.index),
        )

    def loader(self, seed: int, rank: int, world_size: int) -> Batches:
        return ShardLoader(self.train_tokens, self.seq_len, seed, rank, world_size)

    def save(self, data_dir: Path) -> None:
        """Nothing: the corpus stays where it is (``data.path``, checked by its fingerprint)."""

    def data_bytes(self) -> int:
        return 0


def require_corpus_for(cfg: RunConfig) -> None:
    """A preset whose tokenizer is the corpus's (``"prepared"``) needs a prepared corpus."""
    if cfg.data.tokenizer == PREPARED and not is_corpus(cfg.data):
        raise ConfigError(NEEDS_CORPUS.format(preset=cfg.preset or "chosen"))
