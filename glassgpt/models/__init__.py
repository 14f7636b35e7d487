"""PyTorch models.  ``GPT`` is the main one (GPT-2 architecture, Hugging Face parameter names)."""

from .gpt import GPT

__all__ = ["GPT"]
