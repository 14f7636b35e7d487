"""Text for training: the built-in corpora (``load_corpus``) and the user's own files (``read_text``)."""

from .corpora import CORPORA, load_corpus
from .text import describe_text, read_text

__all__ = ["CORPORA", "load_corpus", "read_text", "describe_text"]
