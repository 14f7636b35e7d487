"""Small corpora built on the spot for the scale-out tests (importable as ``support.scaledata``)."""

from __future__ import annotations

import random

WORDS = (
    "the cat sat on a mat while rain fell over grey hills and quiet rivers ran to the sea; "
    "nobody knew why, but everyone agreed it was 42 times better than yesterday"
).split()


def make_docs(n: int, seed: int = 0, words: tuple[int, int] = (5, 80)) -> list[str]:
    """``n`` distinct documents of several lines each (every one starts with its number)."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        lines = []
        for _ in range(rng.randint(1, 6)):
            lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(*words))).capitalize() + ".")
        docs.append(f"Doc {i}.\n" + "\n".join(lines) + "\n")
    return docs


def make_run(path, tokenizer, seed: int = 0, noise: float = 0.1, **model):
    """A run directory (config.json, model.safetensors, tokenizer.json) holding a small random
    GPT, written the way a run is (no training).  Weights get extra noise so biases and gains
    are not all 0/1.  Returns the folder."""
    import torch

    from glassgpt import rundir
    from glassgpt.config import RunConfig
    from glassgpt.fileio import save_tensors, write_json
    from glassgpt.models import GPT

    settings = {"model.n_layer": 2, "model.n_head": 2, "model.n_embd": 32, "model.block_size": 32}
    settings.update({f"model.{k}": v for k, v in model.items()})
    cfg = RunConfig().updated({**settings, "model.vocab_size": tokenizer.vocab_size})
    m = cfg.model
    torch.manual_seed(seed)
    gpt = GPT(m)
    with torch.no_grad():
        for p in gpt.parameters():
            p.add_(torch.randn_like(p) * noise)
    out = rundir.claim(path)
    tokenizer.save(out / rundir.TOKENIZER)
    save_tensors(out / rundir.MODEL, gpt.weights())
    write_json(out / rundir.CONFIG, cfg.to_dict())
    return out
