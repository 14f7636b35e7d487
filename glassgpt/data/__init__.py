"""Text for training: the built-in corpora (``load_corpus``) and the user's own files (``read_text``)."""

from glassgpt.data.corpora import CORPORA, load_corpus
from glassgpt.data.text import describe_text, read_text

__all__ = ["CORPORA", "load_corpus", "read_source", "read_text", "describe_text"]


def read_source(data_cfg) -> str:
    """The text a run's ``[data]`` section names: the user's file or folder (``path``), else the built-in corpus."""
    return read_text(data_cfg.path) if data_cfg.path else load_corpus(data_cfg.corpus)
