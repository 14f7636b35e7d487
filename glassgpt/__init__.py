"""glassgpt: train GPT-style language models from scratch and see exactly how they learn."""

__version__ = "0.1.0"
