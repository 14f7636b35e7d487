"""PyTorch models.  ``GPT`` is the main one (GPT-2 architecture, Hugging Face parameter names);
``KVCache`` holds its keys and values while generating."""

from .gpt import GPT
from .kv_cache import KVCache

__all__ = ["GPT", "KVCache"]
