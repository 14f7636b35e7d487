"""glassgpt: train GPT-style language models from scratch and see exactly how they learn.

The Python API in a few calls::

    import glassgpt
    result = glassgpt.train("runs/poem", preset="poem")          # -> TrainResult
    model, tokenizer = glassgpt.load("runs/poem")                  # torch GPT + tokenizer
    print(glassgpt.generate(model, tokenizer, "All that ", max_new_tokens=60, seed=0)[0])
    print(glassgpt.evaluate("runs/poem"))                          # val_loss, perplexity, bits_per_byte
    run = glassgpt.load_run("runs/poem")     # config, model, tokenizer, trained_context (generate's max_context)
"""

from glassgpt.version import __version__

__all__ = ["train", "load", "load_run", "generate", "evaluate", "__version__"]


def __getattr__(name):
    """The API functions are loaded on first use (they need torch), so ``import glassgpt`` and
    ``glassgpt --help`` stay fast.  Every deferred import of the package is listed, with its
    reason, in tests/architecture/test_layers.py."""
    if name in __all__ and name != "__version__":
        from glassgpt import api

        return getattr(api, name)
    raise AttributeError(f"module 'glassgpt' has no attribute {name!r}")
