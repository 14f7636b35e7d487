"""How an evaluation result names its loss, in ``summary.json``'s ``final`` and ``glassgpt eval``'s JSON.

A result names its loss after what was evaluated: ``val_loss`` for held-out data (or other
text), ``train_loss`` for a run without held-out data (the ``nursery`` and ``poem`` presets),
and always ``loss``.  Runs written before this naming stored a training-split loss as
``val_loss`` with ``"split": "train"``; ``final_loss`` reads both.  Plain dictionaries only,
so the figures read a finished run's loss without loading the model code.
"""

from __future__ import annotations


def named(split: str, result: dict, held_out: bool = False) -> dict:
    """``result`` with the split it measured and its loss named after it: ``train_loss`` for
    the training split, ``val_loss`` for held-out data or ``held_out`` text."""
    name = "val_loss" if held_out or split != "train" else "train_loss"
    return {"split": split, name: result["loss"], **result}


def final_loss(final: dict) -> tuple[str, float | None]:
    """(name, value) of an evaluation's loss, e.g. ("val", 1.87), for this version's results
    and for older runs that stored every loss as ``val_loss``."""
    split = str(final.get("split", "val"))
    value = final.get("loss", final.get(f"{split}_loss", final.get("val_loss")))
    return split, value if isinstance(value, (int, float)) else None
