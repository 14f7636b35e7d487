"""Training on a prepared corpus: ``glassgpt train --data DIR`` where DIR holds ``index.json``.

A corpus written by ``glassgpt data prepare`` is read where it is, never copied into the
run: the training split streams through ``data.shards.ShardLoader`` (windows without
replacement, exact positions across shard ends, a one-number state, disjoint per rank) and
the periodic and final evaluations read the validation split (the training split when the
corpus has none) through ``ShardedTokens``, the memory-mapped shards seen as one array.
Memory holds the pages a batch touches, whatever the corpus's size.

The run's tokenizer is the corpus's: ``data.tokenizer`` records the corpus's tokenizer spec
(the ``gpt2`` preset's ``"prepared"`` asks for exactly that), and ``data.fingerprint`` a
fingerprint of its ``index.json`` (shard names and token counts, tokenizer, settings, and
the inputs it was made from).  ``--resume`` opens the corpus again from ``data.path`` and
refuses one whose fingerprint changed; a corpus moved elsewhere is accepted under its new
path (``--data NEW_DIR``) when its fingerprint is the same.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from glassgpt.config import DataConfig
from glassgpt.data.shards import PreparedData as Corpus
from glassgpt.data.shards import open_prepared
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
    if not data.path or data.files:
        return False
    path = Path(data.path)
    return path.is_dir() and ((path / "index.json").is_file() or (path / "progress.json").is_file())


def fingerprint(index: dict) -> str:
    """16 hex digits identifying a corpus: a hash of its whole ``index.json``."""
    return hashlib.sha256(json.dumps(index, sort_keys=True).encode()).hexdigest()[:16]


def open_corpus(data: DataConfig, preset: str = "") -> Corpus | None:
    """The corpus ``data`` names (None for ordinary text); refuses a ``prepared``-tokenizer
    preset without one, and a corpus whose fingerprint differs from ``data.fingerprint``."""
    if not is_corpus(data):
        if data.fingerprint:  # a run that streamed a corpus which is no longer where it was
            raise DataError(
                f"the prepared corpus {data.path} this run trains on is not there any more; resume with "
                "--data DIR naming where it is now."
            )
        if data.tokenizer == PREPARED:
            raise ConfigError(NEEDS_CORPUS.format(preset=preset or "chosen"))
        return None
    corpus = open_prepared(data.path)
    found = fingerprint(corpus.index)
    if data.fingerprint and data.fingerprint != found:
        raise DataError(
            f"the prepared corpus {data.path} has changed since this run started (fingerprint "
            f"{data.fingerprint}, now {found}); resume with the corpus the run was trained on."
        )
    return corpus


def adopt(data: DataConfig, corpus: Corpus) -> None:
    """Record the corpus's tokenizer spec and fingerprint in the run's data settings."""
    data.tokenizer = corpus.index["tokenizer"]["spec"]
    data.fingerprint = fingerprint(corpus.index)
    data.corpus = ""


def same_corpus(stored: DataConfig, new: DataConfig) -> bool:
    """Whether ``new`` names the corpus ``stored`` was trained on (same fingerprint, any path)."""
    if not stored.fingerprint or not is_corpus(new):
        return False
    try:
        return fingerprint(open_prepared(new.path).index) == stored.fingerprint
    except DataError:
        return False


def meta(corpus: Corpus) -> dict:
    """The header's data figures."""
    splits = corpus.index["splits"]
    return {"train_tokens": splits["train"]["tokens"], "val_tokens": splits["val"]["tokens"]}
