"""PyTorch models.  ``GPT`` is the main one (GPT-2 architecture, Hugging Face parameter names);
``KVCache`` holds its keys and values while generating."""

from glassgpt.models.gpt import GPT
from glassgpt.models.kv_cache import KVCache

__all__ = ["GPT", "KVCache"]
