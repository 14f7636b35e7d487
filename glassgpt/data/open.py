"""The one factory of data sources: what a configuration names, opened before the trainer exists.

- ``open_source(cfg)``: a new run's data, from its inputs (the user's text or folder, a
  built-in corpus, packed documents, a prepared corpus, a word list);
- ``reopen_source(cfg, run_dir)``: the data a run kept (its token cache, word list or
  conversations; a prepared corpus where it is), for a resumed run, ``glassgpt eval`` and
  the other ranks of a distributed run;
- ``shared_source``: the other ranks' data under torchrun;
- ``same_data(run_dir)``: for ``config.resume``, whether other data settings name the data the
  run was trained on (the same text by its fingerprint, the same corpus moved elsewhere).

Conversations are opened by ``glassgpt finetune`` (``stages.finetune``), which adds the chat
tokens to the tokenizer first; preference pairs and RL's prompts by their stages
(``stages.reward``, ``stages.dpo``, ``stages.rl``), which hand them the models they need.

The word-list, conversation, pair and prompt sources are imported where their kind is
opened: a run on text never loads them (nor the chat template, the ladder's models and the
reward machinery they bring), which keeps a plain run's start-up and memory small.
"""

from __future__ import annotations

from pathlib import Path

from glassgpt.config import DataConfig, RunConfig
from glassgpt.config.resolve import SameData
from glassgpt.data.corpus_source import CorpusSource, is_corpus, require_corpus_for, same_corpus
from glassgpt.data.documents import load_training_text
from glassgpt.data.source import DataSource
from glassgpt.data.text_source import TextSource
from glassgpt.data.tokens import read_meta, text_fingerprint
from glassgpt.errors import ConfigError
from glassgpt.rundir.layout import DATA_DIR, TOKENIZER
from glassgpt.tokenizers import Tokenizer
from glassgpt.tokenizers import load as load_tokenizer


def open_source(cfg: RunConfig, text: str | None = None) -> DataSource:
    """A new run's data (``text``, when given, replaces the text ``[data]`` names)."""
    require_corpus_for(cfg)
    kind = "corpus" if is_corpus(cfg.data) else cfg.data.kind
    if text is not None and kind != "text":
        raise ConfigError(f"a run on {_what(kind)} reads its data from --data or --corpus; it takes no text.")
    if kind == "corpus":
        return CorpusSource.open(cfg)
    if kind == "words":
        from glassgpt.makemore.word_source import WordSource

        return WordSource.build(cfg)
    if kind == "conversations":
        raise ConfigError("conversations are for fine-tuning a trained run: use `glassgpt finetune RUN --sft FILE`.")
    if kind in ("pairs", "prompts"):
        raise ConfigError(
            f"{_what(kind)} train a run further from a chat run: use `glassgpt reward`, `glassgpt dpo` or `glassgpt rl`."
        )
    return TextSource.build(cfg, text)


def reopen_source(cfg: RunConfig, run_dir: str | Path, tokenizer: Tokenizer | None = None) -> DataSource:
    """The data the run in ``run_dir`` trained on, as it kept it."""
    run_dir = Path(run_dir)
    tokenizer = tokenizer or load_tokenizer(run_dir / TOKENIZER)
    data_dir = run_dir / DATA_DIR
    kind = cfg.data.kind
    if kind == "corpus":
        return CorpusSource.open(cfg)
    if kind == "words":
        from glassgpt.makemore.word_source import WordSource

        return WordSource.reopen(cfg, tokenizer, data_dir)
    if kind == "conversations":
        from glassgpt.data.conversation_source import ConversationSource

        return ConversationSource.reopen(cfg, tokenizer, data_dir)
    if kind == "pairs":
        from glassgpt.data.pair_source import PairSource

        return PairSource.reopen(cfg, tokenizer, data_dir)
    if kind == "prompts":
        from glassgpt.data.prompt_source import PromptSource

        return PromptSource.reopen(cfg, tokenizer, data_dir)
    return TextSource.reopen(cfg, tokenizer, data_dir)


def shared_source(cfg: RunConfig, tokenizer: Tokenizer, arrays: list, meta: dict) -> DataSource:
    """The data of a distributed run on a rank that is not rank 0: the token arrays rank 0
    sent, or the prepared corpus every rank reads from its own path."""
    if cfg.data.kind == "corpus":
        return CorpusSource.open(cfg)
    if cfg.data.kind != "text":
        raise ConfigError(f"a run on {_what(cfg.data.kind)} trains in one process; start it without torchrun.")
    return TextSource.from_shared(cfg, tokenizer, arrays, meta)


def same_data(run_dir: str | Path) -> SameData:
    """``same(stored, given)`` for a resume of the run in ``run_dir`` (see ``config.resume``)."""

    def same(stored: DataConfig, given: DataConfig) -> DataConfig | None:
        if stored.kind == "corpus":
            return same_corpus(stored, given)
        if stored.kind != "text":
            return None
        fingerprint = read_meta(Path(run_dir) / DATA_DIR).get("text_sha256_16")
        if fingerprint and text_fingerprint(load_training_text(given).text) == fingerprint:
            return stored  # the same text under another name
        return None

    return same


def _what(kind: str) -> str:
    names = {
        "corpus": "a prepared corpus",
        "words": "a word list",
        "pairs": "preference pairs",
        "prompts": "RL prompts",
    }
    return names.get(kind, kind)
