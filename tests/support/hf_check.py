"""Check an exported folder with ``transformers`` itself (the optional extra ``glassgpt[hf]``), and
make a small GPT-2 folder the way ``transformers`` writes one (for the import tests)."""

from __future__ import annotations

import os

import torch

from glassgpt.errors import InteropError
from glassgpt.models import GPT
from support.scaledata import make_docs

#: the text the Hugging Face tests train their tokenizers on
TEXT = "".join(make_docs(20, seed=11))


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


def gpt2_style_folder(path, seed=0, **config):
    """A random GPT2LMHeadModel and a GPT-2-style tokenizer (byte-level, <|endoftext|> last)."""
    from tokenizers import ByteLevelBPETokenizer

    transformers = require_transformers()

    bl = ByteLevelBPETokenizer(add_prefix_space=False)
    bl.train_from_iterator([TEXT], vocab_size=320, min_frequency=1, show_progress=False)
    bl.add_special_tokens(["<|endoftext|>"])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=bl._tokenizer, eos_token="<|endoftext|>")
    fast.save_pretrained(path)
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(
        vocab_size=len(fast),
        n_positions=48,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=len(fast) - 1,
        eos_token_id=len(fast) - 1,
        **config,
    )
    model = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.save_pretrained(path)
    return model, fast
