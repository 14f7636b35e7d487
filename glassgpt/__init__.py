"""glassgpt: train GPT-style language models from scratch and see exactly how they learn.

The Python API in four calls::

    import glassgpt
    result = glassgpt.train("runs/poem", preset="poem")          # -> TrainResult
    model, tokenizer = glassgpt.load("runs/poem")                  # torch GPT + tokenizer
    print(glassgpt.generate(model, tokenizer, "All that ", max_new_tokens=60, seed=0)[0])
    print(glassgpt.evaluate("runs/poem"))                          # val_loss, perplexity, bits_per_byte
"""

__version__ = "0.1.0"

__all__ = ["train", "load", "generate", "evaluate", "__version__"]


def __getattr__(name):  # lazy, so `import glassgpt` and `glassgpt --help` stay fast
    if name == "train":
        from .training.trainer import train
        return train
    if name == "load":
        from .runs import load
        return load
    if name == "generate":
        from .sample import sample_text
        return sample_text
    if name == "evaluate":
        from .evaluation import evaluate_run
        return evaluate_run
    raise AttributeError(name)
