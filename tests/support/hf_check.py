"""Check an exported folder with ``transformers`` itself (the optional extra ``glassgpt[hf]``)."""

from __future__ import annotations

import os

import torch

from glassgpt.errors import InteropError
from glassgpt.models import GPT


def require_transformers():
    """The ``transformers`` module, or one sentence saying how to install it."""
    try:
        import transformers
    except ImportError:
        raise InteropError("this needs the transformers package; install it with pip install 'glassgpt[hf]'.") from None
    return transformers


@torch.no_grad()
def compare_logits(model: GPT, tokenizer, hf_dir: str | os.PathLike, text: str) -> dict:
    """Load ``hf_dir`` with ``transformers`` and run ``text`` through both models.

    Returns ``{"tokens", "same_ids", "max_abs_diff"}``: whether ``AutoTokenizer`` gives our
    ids, and the largest logit difference over every position and vocabulary entry."""
    transformers = require_transformers()
    hf_tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    hf_model = transformers.GPT2LMHeadModel.from_pretrained(hf_dir).eval()
    ids = tokenizer.encode(text)
    hf_ids = hf_tok(text)["input_ids"]
    x = torch.tensor([ids[: model.config.block_size]])
    ours, _ = model.eval().cpu()(x)
    theirs = hf_model(x).logits
    return {
        "tokens": x.size(1),
        "same_ids": list(hf_ids) == list(ids),
        "max_abs_diff": float((ours - theirs).abs().max()),
    }
